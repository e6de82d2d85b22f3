"""The last stage of bench/gpu/run.sh: reads what the stages left in the results folder and prints
the Markdown summary (also written to --out), plus everything merged into one JSON file.
Standard library only, so it runs wherever run.sh does.

    python3 bench/gpu/summary.py --results <folder> --out gpu-report.md [--json results.json]
"""

import argparse
import csv
import json
import os
import re
import sys

MODELS = ['mycnn', 'resnet', 'se-resnet', 'vgg11']
TOLERANCE = 1e-4


def read_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def read_lines(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip().startswith('{')]
    except (OSError, ValueError):
        return []


def read_text(path):
    try:
        with open(path, errors='replace') as f:
            return f.read()
    except OSError:
        return ''


def read_tsv(path):
    try:
        with open(path) as f:
            return list(csv.reader(f, delimiter='\t'))
    except OSError:
        return []


def sci(x):
    return '-' if x is None else '0' if x == 0 else f'{x:.1e}'


def stage_status(stages, name):
    for row in stages:
        if row and row[0] == name:
            return row[1]
    return 'not run'


def environment_rows(results, stages):
    info = read_json(os.path.join(results, 'info.json'))
    if not info:
        return [('GPU and libraries', f'unknown (info stage: {stage_status(stages, "info")})')]
    gpus = ', '.join(d['name'] for d in info.get('devices', [])) or 'none listed'
    libraries = {lib['name']: lib for lib in info.get('libraries', [])}

    def version(name):
        lib = libraries.get(name, {})
        return lib.get('version') or 'missing'

    rows = [('GPU, driver, CUDA', f'{gpus}; driver {info.get("driverVersion") or "-"}, CUDA {info.get("cudaVersion") or "-"}'),
            ('cuBLAS / cuDNN / NVRTC', f'{version("cuBLAS")} / {version("cuDNN")} / {version("NVRTC")}')]
    if not info.get('available'):
        rows.append(('CUDA available to Ferrite', f'**no**: {info.get("unavailableReason")}'))
    torch = read_lines(os.path.join(results, 'speed.jsonl'))
    for event in torch:
        if event.get('event') == 'ready' and event.get('framework') == 'torch':
            rows.append(('PyTorch', event['version']))
            break
    return rows


def ops_row(results, stages):
    ops = read_json(os.path.join(results, 'ops.json'))
    if not ops:
        return [('ops vs CPU, TF32 off', f'no result ({stage_status(stages, "ops")})')]
    rows = ops['rows']
    cases = sum(r['cases'] for r in rows)
    failing = [r for r in rows if not r['pass']]
    worst_f = max(rows, key=lambda r: r['forward'], default=None)
    worst_g = max(rows, key=lambda r: r['gradient'] or 0, default=None)
    worst = f'worst forward {sci(worst_f["forward"])} ({worst_f["op"]}), gradients {sci(worst_g["gradient"])} ({worst_g["op"]})' if rows else ''
    if failing:
        listed = ', '.join(f'{r["op"]} ({"error" if r["failures"] else sci(max(r["forward"], r["gradient"] or 0))})' for r in failing[:12])
        verdict = f'**{len(failing)} of {len(rows)} op rows off or failing**: {listed}{" ..." if len(failing) > 12 else ""}; {worst}'
    else:
        verdict = f'all {len(rows)} op rows within {TOLERANCE:g}; {worst}'
    return [(f'ops vs CPU on {ops["device"]}, TF32 off ({cases} cases)', verdict),
            ('nn_ops.json fixtures on the device vs PyTorch', f'max relative error {sci(ops.get("vsTorch"))}')]


def rust_row(results, stages):
    status = stage_status(stages, 'rust')
    log = read_text(os.path.join(results, 'rust.log'))
    totals = [0, 0, 0]
    for m in re.finditer(r'test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored', log):
        totals = [t + int(v) for t, v in zip(totals, m.groups())]
    failed = re.findall(r'^test (\S+) \.\.\. FAILED', log, re.M)
    if not log or 'test result' not in log:
        return [('Rust `cuda_test!` suite on the GPU', status)]
    text = f'{totals[0]} passed, {totals[1]} failed'
    if failed:
        text += ': ' + ', '.join(failed[:10]) + (' ...' if len(failed) > 10 else '')
    return [('Rust `cuda_test!` suite on the GPU', text if status == 'ok' else f'{text} ({status})')]


def memcheck_row(results, stages):
    status = stage_status(stages, 'memcheck')
    log = read_text(os.path.join(results, 'memcheck.log'))
    if not log:
        return [('compute-sanitizer memcheck, one ResNet training step', status)]
    m = re.search(r'ERROR SUMMARY: (\d+) errors?', log)
    step = re.search(r'"event":"step".*', log)
    if m:
        text = f'{m.group(1)} errors'
    elif 'no compute-sanitizer' in log:
        text = 'compute-sanitizer not found; the step ran without it'
    else:
        text = 'no ERROR SUMMARY'
    if not step:
        text += '; the step did not finish'
    return [('compute-sanitizer memcheck, one ResNet training step', f'{text} ({status})')]


def train_results(results):
    runs = {}
    for row in read_tsv(os.path.join(results, 'train.tsv')):
        if len(row) >= 5:
            label, device, model, status, seconds = row[:5]
            history = read_json(os.path.join(results, 'runs', f'{label}-{model}', 'history.json'), {})
            runs[(label, model)] = {'device': device, 'status': status, 'seconds': float(seconds), **history}
    return runs


def speed_results(results):
    speed = {}
    for event in read_lines(os.path.join(results, 'speed.jsonl')):
        if event.get('event') == 'model':
            speed[(event['framework'], event['workload'], event['model'])] = event
        elif event.get('event') == 'error':
            speed[(event['framework'], 'error', event['model'])] = event
    return speed


def accuracy(run):
    if not run:
        return 'not run'
    final = run.get('finalTestAccuracy')
    if run['status'] != 'ok' or final is None:
        return run['status']
    return f'{100 * final:.2f} %'


def difference(gpu_run, cpu_run):
    finals = [(r or {}).get('finalTestAccuracy') for r in (gpu_run, cpu_run)]
    if None in finals or gpu_run['status'] != 'ok' or cpu_run['status'] != 'ok':
        return ''
    return f' ({100 * (finals[0] - finals[1]):+.2f} points)'


def rate(event):
    return f'{event["imagesPerSecond"]:.0f}' if event else '-'


def peak(event):
    return f'{event["peakMB"]:.0f}' if event and event.get('peakMB') is not None else '-'


def ratio(a, b):
    return f'{a["imagesPerSecond"] / b["imagesPerSecond"]:.2f}x' if a and b else '-'


def model_table(results):
    runs = train_results(results)
    speed = speed_results(results)
    epochs = next((r['options']['epochs'] for r in runs.values() if r.get('options')), '?')
    device = next((r['device'] for (label, _), r in runs.items() if label == 'device'), 'GPU')
    header = (f'| model | parameters (Ferrite / PyTorch) | test accuracy after {epochs} epoch(s), {device} / CPU | training images/s: Ferrite, PyTorch, ratio '
              '| inference images/s: Ferrite, PyTorch, ratio | peak memory in training, MiB: Ferrite, PyTorch |')
    lines = [header, '| --- | --- | --- | --- | --- | --- |']
    for model in MODELS:
        ft_train, pt_train = speed.get(('ferrite', 'train', model)), speed.get(('torch', 'train', model))
        ft_infer, pt_infer = speed.get(('ferrite', 'infer', model)), speed.get(('torch', 'infer', model))
        params = [(e or {}).get('parameters') for e in (ft_train, pt_train)]
        same = '' if None in params else (' (equal)' if params[0] == params[1] else ' (**differ**)')
        param_text = f'{params[0] if params[0] is not None else "-"} / {params[1] if params[1] is not None else "-"}{same}'
        errors = [speed[k]['message'].split('\n')[0][:80] for k in (('ferrite', 'error', model), ('torch', 'error', model)) if k in speed]
        gpu_run, cpu_run = runs.get(('device', model)), runs.get(('cpu', model))
        lines.append(f'| {model} | {param_text} | {accuracy(gpu_run)} / {accuracy(cpu_run)}{difference(gpu_run, cpu_run)} '
                     f'| {rate(ft_train)}, {rate(pt_train)}, {ratio(ft_train, pt_train)} '
                     f'| {rate(ft_infer)}, {rate(pt_infer)}, {ratio(ft_infer, pt_infer)}{"; " + "; ".join(errors) if errors else ""} '
                     f'| {peak(ft_train)}, {peak(pt_train)} |')
    return lines


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--results', required=True)
    parser.add_argument('--out', required=True)
    parser.add_argument('--json', default='')
    parser.add_argument('--title', default='GPU check')
    args = parser.parse_args()
    stages = read_tsv(os.path.join(args.results, 'stages.tsv'))
    rows = [*environment_rows(args.results, stages), *ops_row(args.results, stages), *rust_row(args.results, stages),
            *memcheck_row(args.results, stages)]
    lines = [f'### {args.title}', '', '| check | result |', '| --- | --- |']
    lines += [f'| {name} | {value} |' for name, value in rows]
    table = model_table(args.results)
    lines += ['', *table, '']
    timing = ', '.join(f'{r[0]} {r[1]} ({r[2]} s)' for r in stages if len(r) >= 3)
    lines.append(f'Stages: {timing}.')
    data = read_text(os.path.join(args.results, 'data.txt')).strip()
    if data:
        lines.append(f'Data: {data}')
    lines.append('Training and inference images/s: batch 100 of random 32x32x3 images, warm-up steps then timed steps between two '
                 'device synchronisations (bench/gpu/models.mjs, bench/gpu/torch_models.py); TF32 as PyTorch defaults it '
                 '(cuDNN convolutions yes, matmul no), cudnn.benchmark on for PyTorch.')
    report = '\n'.join(lines) + '\n'
    with open(args.out, 'w') as f:
        f.write(report)
    print(report)
    if args.json:
        merged = {'stages': stages, 'info': read_json(os.path.join(args.results, 'info.json')),
                  'ops': read_json(os.path.join(args.results, 'ops.json')), 'train': {f'{d}/{m}': v for (d, m), v in train_results(args.results).items()},
                  'speed': read_lines(os.path.join(args.results, 'speed.jsonl'))}
        with open(args.json, 'w') as f:
            json.dump(merged, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
