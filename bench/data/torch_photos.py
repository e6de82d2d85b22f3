"""PyTorch's side of `npm run bench:data` photos: torchvision's ImageFolder (PIL decoding) through
DataLoader with `workers` worker processes, the transforms named by `pipeline`, batch 64. Prints
one JSON line per timed epoch: {"seconds": s, "images": n}.

    python bench/data/torch_photos.py <folder> <workers> <pipeline: random-resized-crop | random-resized-crop+color-jitter> <epochs>
"""

import json
import sys
import time

import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms as T

root, workers, pipeline, epochs = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
jitter = {"random-resized-crop": [], "random-resized-crop+color-jitter": [T.ColorJitter(brightness=0.2, contrast=0.2)]}[pipeline]
transform = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), *jitter, T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
loader = DataLoader(
    datasets.ImageFolder(root, transform=transform),
    batch_size=64,
    shuffle=True,
    num_workers=workers,
    persistent_workers=workers > 0,
    generator=torch.Generator().manual_seed(0),
)


def one_epoch():
    start, images = time.perf_counter(), 0
    for batch, _ in loader:
        images += batch.shape[0]
    return time.perf_counter() - start, images


one_epoch()  # warm-up: worker start, page cache
for _ in range(epochs):
    seconds, images = one_epoch()
    print(json.dumps({"seconds": seconds, "images": images}), flush=True)
