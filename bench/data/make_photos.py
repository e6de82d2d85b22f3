"""Makes the photo folder of `npm run bench:data`: cifar10-mini's training PNGs upscaled to
500x375 (bicubic) and saved as JPEG (quality 90, Pillow's default 4:2:0 subsampling), one folder
per class, `per_class` images each. Reuses the folder when it is already complete.

    python bench/data/make_photos.py <cifar10-mini/train> <out dir> <per_class>
"""

import sys
from pathlib import Path

from PIL import Image

source, out, per_class = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
done = out / f".complete-{per_class}"
if not done.exists():
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        target = out / folder.name
        target.mkdir(parents=True, exist_ok=True)
        for png in sorted(folder.glob("*.png"))[:per_class]:
            with Image.open(png) as image:
                photo = image.convert("RGB").resize((500, 375), Image.Resampling.BICUBIC)
            photo.save(target / f"{png.stem}.jpg", quality=90)
    done.touch()
print(out)
