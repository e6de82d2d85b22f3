"""Packs cifar10-mini small enough to travel to a GPU machine, and unpacks it there.

The device tool carries at most 64 MiB, and xz shrinks CIFAR's raw records only to 77 %. So:
- records already in the repository (data/cifar10-sample: the first 200 / 100 of each class of
  cifar10-mini) are not carried again; only the records of each class after them are;
- those are coded losslessly like a PNG: each pixel minus the MED (LOCO-I) prediction from its
  left, upper and upper-left neighbours, green's residual minus red's and blue's minus green's,
  then LZMA (two thirds of what xz makes of the raw records).
`unpack` rebuilds the first K train / M test records of each class in cifar10-mini's order and
checks them against the SHA-256 that `pack` recorded, so what trains on the GPU is exactly what
the CPU trains on here.

    python cifar_pack.py pack --mini ../shared/data/cifar10-mini --sample data/cifar10-sample \
        --train-per-class 1000 --test-per-class 500 --out bench/gpu/.carry/cifar.pack
    python cifar_pack.py unpack --pack bench/gpu/.carry/cifar.pack --sample data/cifar10-sample --out /tmp/cifar
"""

import argparse
import hashlib
import json
import lzma
import os
import struct
import sys

import numpy as np

RECORD = 3073
CLASSES = 10
MAGIC = b'FTCIFAR1'
SPLITS = {'train': 'train.bin', 'test': 'test.bin'}
LZMA = 9 | lzma.PRESET_EXTREME


def read_records(path):
    data = np.fromfile(path, dtype=np.uint8)
    if data.size % RECORD:
        raise SystemExit(f'{path}: {data.size} bytes is not a whole number of {RECORD}-byte records')
    return data.reshape(-1, RECORD)


def by_class(records):
    """Records grouped by label, each group in file order."""
    return [records[records[:, 0] == c] for c in range(CLASSES)]


def neighbours(px, y, x):
    """The left, upper and upper-left pixels of (y, x); 0 outside the image."""
    zero = np.zeros(px.shape[:2], dtype=np.int16)
    a = px[:, :, y, x - 1] if x > 0 else zero
    b = px[:, :, y - 1, x] if y > 0 else zero
    c = px[:, :, y - 1, x - 1] if x > 0 and y > 0 else zero
    return a, b, c


def med(a, b, c):
    """LOCO-I's median edge detector: min(a, b) over an edge above, max(a, b) below, else a + b - c."""
    hi = np.maximum(a, b)
    lo = np.minimum(a, b)
    return np.where(c >= hi, lo, np.where(c <= lo, hi, a + b - c))


def encode(records):
    """Labels, then residual planes (all images' red, then green, then blue), LZMA-compressed."""
    labels = records[:, 0]
    px = records[:, 1:].reshape(-1, 3, 32, 32).astype(np.int16)
    a = np.zeros_like(px)
    a[..., 1:] = px[..., :-1]
    b = np.zeros_like(px)
    b[..., 1:, :] = px[..., :-1, :]
    c = np.zeros_like(px)
    c[..., 1:, 1:] = px[..., :-1, :-1]
    residual = (px - med(a, b, c)) % 256
    decorrelated = residual.copy()
    decorrelated[:, 1] = residual[:, 1] - residual[:, 0]
    decorrelated[:, 2] = residual[:, 2] - residual[:, 1]
    planes = np.ascontiguousarray((decorrelated % 256).astype(np.uint8).transpose(1, 0, 2, 3))
    return lzma.compress(labels.tobytes() + planes.tobytes(), preset=LZMA)


def decode(blob, count):
    raw = np.frombuffer(lzma.decompress(blob), dtype=np.uint8)
    labels = raw[:count]
    decorrelated = raw[count:].reshape(3, count, 32, 32).transpose(1, 0, 2, 3).astype(np.int16)
    residual = decorrelated.copy()
    residual[:, 1] = (decorrelated[:, 1] + residual[:, 0]) % 256
    residual[:, 2] = (decorrelated[:, 2] + residual[:, 1]) % 256
    px = np.zeros_like(residual)
    # Each pixel needs its decoded left neighbour, so the loop runs over positions, vectorised over images.
    for y in range(32):
        for x in range(32):
            px[:, :, y, x] = (residual[:, :, y, x] + med(*neighbours(px, y, x))) % 256
    records = np.empty((count, RECORD), dtype=np.uint8)
    records[:, 0] = labels
    records[:, 1:] = px.astype(np.uint8).reshape(count, -1)
    return records


def pack(args):
    header = {'splits': {}}
    blobs = []
    for split, per_class in (('train', args.train_per_class), ('test', args.test_per_class)):
        mini = by_class(read_records(os.path.join(args.mini, SPLITS[split])))
        sample = by_class(read_records(os.path.join(args.sample, SPLITS[split])))
        wanted = [group[:per_class] for group in mini]
        if any(len(group) < per_class for group in wanted):
            raise SystemExit(f'{args.mini}: fewer than {per_class} {split} records in some class')
        skip = min(per_class, min(len(group) for group in sample))
        for c in range(CLASSES):
            if not np.array_equal(sample[c][:skip], wanted[c][:skip]):
                raise SystemExit(f'{args.sample}: class {c} of {split} is not the start of cifar10-mini\'s; cannot leave it out')
        extra = np.concatenate([group[skip:] for group in wanted])
        full = np.concatenate(wanted)
        blob = encode(extra) if len(extra) else b''
        header['splits'][split] = {
            'perClass': per_class,
            'fromSample': skip,
            'carried': int(len(extra)),
            'bytes': len(blob),
            'sha256': hashlib.sha256(full.tobytes()).hexdigest(),
        }
        blobs.append(blob)
    meta = json.dumps(header).encode()
    with open(args.out, 'wb') as out:
        out.write(MAGIC + struct.pack('<I', len(meta)) + meta)
        for blob in blobs:
            out.write(blob)
    print(json.dumps(header))


def unpack(args):
    with open(args.pack, 'rb') as f:
        if f.read(len(MAGIC)) != MAGIC:
            raise SystemExit(f'{args.pack}: not a cifar_pack.py file')
        (length,) = struct.unpack('<I', f.read(4))
        header = json.loads(f.read(length))
        os.makedirs(args.out, exist_ok=True)
        for split, info in header['splits'].items():
            blob = f.read(info['bytes'])
            extra = by_class(decode(blob, info['carried'])) if info['carried'] else [np.empty((0, RECORD), np.uint8)] * CLASSES
            sample = by_class(read_records(os.path.join(args.sample, SPLITS[split])))
            skip = info['fromSample']
            full = np.concatenate([np.concatenate([sample[c][:skip], extra[c]]) for c in range(CLASSES)])
            digest = hashlib.sha256(full.tobytes()).hexdigest()
            if digest != info['sha256']:
                raise SystemExit(f'{split}: SHA-256 {digest} after unpacking, {info["sha256"]} when packed')
            full.tofile(os.path.join(args.out, SPLITS[split]))
            print(f'{split}.bin: {len(full)} records ({info["perClass"]} per class), SHA-256 checked')
    meta = os.path.join(args.sample, 'batches.meta.txt')
    if os.path.exists(meta):
        with open(meta, 'rb') as src, open(os.path.join(args.out, 'batches.meta.txt'), 'wb') as dst:
            dst.write(src.read())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    p = sub.add_parser('pack')
    p.add_argument('--mini', required=True)
    p.add_argument('--sample', required=True)
    p.add_argument('--train-per-class', type=int, default=1000)
    p.add_argument('--test-per-class', type=int, default=500)
    p.add_argument('--out', required=True)
    u = sub.add_parser('unpack')
    u.add_argument('--pack', required=True)
    u.add_argument('--sample', required=True)
    u.add_argument('--out', required=True)
    args = parser.parse_args()
    (pack if args.command == 'pack' else unpack)(args)


if __name__ == '__main__':
    sys.exit(main())
