"""PyTorch eager's side of the throughput comparison in bench/gpu/run.sh (models.mjs is Ferrite's).

The four tutorial models are the ones `npm run bench:compare` uses, bench/compare/torch_models.py,
written as the tutorial writes them and matching ts/models/ layer for layer (this script prints
their parameter counts; run.sh checks them against Ferrite's). Timed as models.mjs times Ferrite:
batch 100 of 32x32x3 random images on one device, warm-up steps, then timed steps between two
torch.cuda.synchronize() calls; training is forward, cross entropy, backward and Adam, inference
eval mode under no_grad. PyTorch's TF32 defaults (cuDNN convolutions yes, matmul no) and
cudnn.benchmark on, since Ferrite also picks each convolution's algorithm once per shape.

    python bench/gpu/torch_models.py [--device cuda:0] [--models mycnn,resnet,se-resnet,vgg11] [--json out.jsonl]
    python bench/gpu/torch_models.py --device cpu --params-only     (parameter counts, no timing)
"""

import argparse
import importlib.util
import json
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
CLASSES = 10
LEARNING_RATE = 1e-3


def load_architectures():
    """bench/compare/torch_models.py, loaded by path (this file has the same module name)."""
    path = os.path.join(HERE, '..', 'compare', 'torch_models.py')
    spec = importlib.util.spec_from_file_location('tutorial_torch_models', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.MODELS


MODELS = load_architectures()


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


class Reporter:
    def __init__(self, json_path):
        self.json_path = json_path

    def __call__(self, event):
        line = json.dumps(event)
        print(line, flush=True)
        if self.json_path:
            with open(self.json_path, 'a') as f:
                f.write(line + '\n')


def synchronize(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def measure(call, device, args):
    """`warmup` calls, then calls until `steps` ran or `seconds` passed (at least 3), timed as one span."""
    warm_start = time.perf_counter()
    for _ in range(args.warmup):
        call()
    synchronize(device)
    warm_up_seconds = time.perf_counter() - warm_start
    start = time.perf_counter()
    steps = 0
    while steps < args.steps and (steps < 3 or time.perf_counter() - start < args.seconds):
        call()
        steps += 1
    synchronize(device)
    seconds = time.perf_counter() - start
    return {'steps': steps, 'seconds': seconds, 'warmUpSeconds': warm_up_seconds, 'imagesPerSecond': steps * args.batch / seconds}


def peak_megabytes(device):
    return torch.cuda.max_memory_allocated(device) / 2 ** 20 if device.type == 'cuda' else None


def reset_peak(device):
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)


def bench_model(name, device, args, report):
    torch.manual_seed(0)
    model = MODELS[name]().to(device)
    common = {'framework': 'torch', 'model': name, 'device': str(device), 'batch': args.batch, 'parameters': parameter_count(model)}
    if args.params_only:
        report({'event': 'parameters', **common})
        return
    x = torch.randn(args.batch, 3, 32, 32, device=device)
    y = torch.randint(0, CLASSES, (args.batch,), device=device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = torch.nn.CrossEntropyLoss()

    def train_step():
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def infer_step():
        with torch.no_grad():
            model(x)

    model.train()
    reset_peak(device)
    report({'event': 'model', 'workload': 'train', **common, **measure(train_step, device, args), 'peakMB': peak_megabytes(device)})
    model.eval()
    reset_peak(device)
    report({'event': 'model', 'workload': 'infer', **common, **measure(infer_step, device, args), 'peakMB': peak_megabytes(device)})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', default='cuda:0')
    parser.add_argument('--models', default=','.join(MODELS))
    parser.add_argument('--batch', type=int, default=100)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--steps', type=int, default=20)
    parser.add_argument('--seconds', type=float, default=4)
    parser.add_argument('--json', default='')
    parser.add_argument('--params-only', action='store_true')
    args = parser.parse_args()
    report = Reporter(args.json)
    device = torch.device(args.device)
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    versions = f'torch {torch.__version__}'
    if device.type == 'cuda':
        versions += f' (CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, {torch.cuda.get_device_name(device)})'
    report({'event': 'ready', 'framework': 'torch', 'version': versions, 'device': str(device), 'threads': torch.get_num_threads()})
    failed = False
    for name in args.models.split(','):
        if name not in MODELS:
            raise SystemExit(f'unknown model {name!r}; expected one of {", ".join(MODELS)}')
        try:
            bench_model(name, device, args, report)
        except Exception as e:  # one model's failure is reported; the others still run
            failed = True
            report({'event': 'error', 'framework': 'torch', 'model': name, 'device': str(device), 'message': f'{type(e).__name__}: {e}'})
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
