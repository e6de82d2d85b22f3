"""PyTorch's side of `npm run bench:compare` on the CPU; run.mts starts it once per workload with
bench/.venv's python (or python3 with --system-python). Same timing loop and JSON lines as
bench/compare/peer.ts; threads pinned by --threads here and OMP_NUM_THREADS from run.mts.
`--mode` picks how train and infer run the model (MODES below); conv passes are NCHW float32."""

import argparse
import contextlib
import json
import resource
import sys
import time

import torch
import torch.nn.functional as F

from torch_models import MODELS

BATCH = 100
CLASSES = 10
IMAGE_SIZE = 32
LEARNING_RATE = 1e-3
WARM_UP_CALLS = 2
MIN_RUNS = 3
PASSES = ['forward', 'backward-input', 'backward-weight']
# The ways a PyTorch user runs these models on a CPU: the default (NCHW float32, eager),
# channels_last float32, and autocast bf16 with channels_last (PyTorch's fastest CPU mode on
# AVX512-BF16 and AMX parts). Each is (memory format of model and input, autocast dtype or None).
MODES = {
    'nchw-fp32': (torch.contiguous_format, None),
    'cl-fp32': (torch.channels_last, None),
    'cl-bf16': (torch.channels_last, torch.bfloat16),
}


def report(event):
    sys.stdout.write(json.dumps(event) + '\n')
    sys.stdout.flush()


def read_status(field):
    """A `kB` field of /proc/self/status (VmRSS, VmHWM), or None off Linux."""
    try:
        with open('/proc/self/status') as status:
            for line in status:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def measure(call, budget_s, target_s):
    """Warm-up (two calls, or one past a quarter of the budget), then timed calls until target_s
    has passed and MIN_RUNS ran, stopping once budget_s is spent; times in ms."""
    start = time.perf_counter()

    def elapsed():
        return time.perf_counter() - start

    warm_up = []
    while True:
        warm_up.append(timed(call))
        if len(warm_up) >= WARM_UP_CALLS or elapsed() >= budget_s / 4:
            break
    times = []
    timed_start = time.perf_counter()
    while elapsed() < budget_s and (len(times) < MIN_RUNS or time.perf_counter() - timed_start < target_s):
        times.append(timed(call))
    ordered = sorted(times) if times else [min(warm_up)]
    return {'runs': len(times), 'medianMs': ordered[len(ordered) // 2], 'bestMs': ordered[0], 'seconds': elapsed()}


def timed(call):
    t = time.perf_counter()
    call()
    return (time.perf_counter() - t) * 1e3


def conv_pass(c, o, hw, pass_name, budget_s, target_s):
    x = torch.randn(BATCH, c, hw, hw)
    w = torch.randn(o, c, 3, 3)
    if pass_name == 'forward':
        def call():
            with torch.no_grad():
                F.conv2d(x, w, padding=1)
    else:
        # A backward alone: retained graph, only its operand requires grad, grad cleared each call.
        wrt = x if pass_name == 'backward-input' else w
        wrt.requires_grad_(True)
        y = F.conv2d(x, w, padding=1)
        dy = torch.randn_like(y)

        def call():
            wrt.grad = None
            y.backward(dy, retain_graph=True)
    m = measure(call, budget_s, target_s)
    flops = 2 * BATCH * o * hw * hw * c * 9
    report({'event': 'conv', 'c': c, 'o': o, 'hw': hw, 'pass': pass_name, 'backend': 'cpu', **m,
            'gflops': flops / m['medianMs'] / 1e6})


def model_step(workload, name, mode, batch, budget_s, target_s):
    memory_format, autocast_dtype = MODES[mode]
    model = MODELS[name]().to(memory_format=memory_format)
    x = torch.randn(batch, 3, IMAGE_SIZE, IMAGE_SIZE).contiguous(memory_format=memory_format)
    y = torch.randint(0, CLASSES, (batch,))

    def autocast():
        # As PyTorch's AMP recipe: forward and loss under autocast, backward and step outside it.
        if autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast('cpu', dtype=autocast_dtype)

    if workload == 'train':
        optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
        loss_fn = torch.nn.CrossEntropyLoss()
        model.train()

        def call():
            with autocast():
                loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return loss.item()
    else:
        model.eval()

        def call():
            with torch.no_grad(), autocast():
                model(x)
    m = measure(call, budget_s, target_s)
    report({'event': 'model', 'workload': workload, 'model': name, 'mode': mode, 'batch': batch, 'backend': 'cpu', **m,
            'imagesPerSecond': batch * 1000 / m['medianMs']})


def cpu_features():
    """What PyTorch itself detects for bf16: its AVX512-BF16 and AMX checks, and oneDNN's bf16 support."""
    features = {}
    for name, check in [('avx512_bf16', getattr(torch.cpu, '_is_avx512_bf16_supported', None)),
                        ('amx_tile', getattr(torch.cpu, '_is_amx_tile_supported', None))]:
        if check is not None:
            features[name] = bool(check())
    try:
        features['mkldnn_bf16'] = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        pass
    return features


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--workload', choices=['conv', 'train', 'infer'], required=True)
    parser.add_argument('--model', default='')
    parser.add_argument('--mode', choices=list(MODES), default='nchw-fp32', help='train and infer only; conv is NCHW float32')
    parser.add_argument('--batch', type=int, default=BATCH, help='images per training step or inference call')
    parser.add_argument('--items', default='', help='conv layers and passes: 3x16x32:forward,...')
    parser.add_argument('--budget', type=float, default=20)
    parser.add_argument('--target', type=float, default=3)
    parser.add_argument('--threads', type=int, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    version = f'torch {torch.__version__} (Python {sys.version.split()[0]}, {torch.backends.cpu.get_cpu_capability()} kernels)'
    report({'event': 'ready', 'version': version, 'threads': torch.get_num_threads(), 'rssKb': read_status('VmRSS'),
            'features': cpu_features()})
    if args.workload == 'conv':
        for item in filter(None, args.items.split(',')):
            shape, pass_name = item.split(':')
            if pass_name not in PASSES:
                raise SystemExit(f'--items: unknown pass {pass_name!r} in {item!r}')
            c, o, hw = (int(v) for v in shape.split('x'))
            conv_pass(c, o, hw, pass_name, args.budget, args.target)
    else:
        model_step(args.workload, args.model, args.mode, args.batch, args.budget, args.target)
    # ru_maxrss is in KiB on Linux; VmHWM is the same high-water mark where /proc exists.
    report({'event': 'done', 'peakRssKb': read_status('VmHWM') or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss})


if __name__ == '__main__':
    main()
