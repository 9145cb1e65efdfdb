"""The paper's ablations at small scale: one `moco-pretrain` run per variant on the embedded CIFAR-10 subset.

Every variant changes one thing of the base run: a CIFAR-stem ResNet-10 on 2,560 training images (256 per class),
batch 128, 8 epochs, cosine lr 0.06, shuffle BN over 8 SplitBatchNorm groups, momentum m = 0.99, queue K = 4096,
tau = 0.1, bf16, seed 0, with the kNN monitor on 1,000 test images every 2 epochs. The variants are:
  - shuffle BN off (--no-shuffle-bn): the model may cheat through the BatchNorm statistics;
  - momentum m in {0, 0.9, 0.999} (and the base 0.99);
  - queue size K in {512, 1024, 16384} (and the base 4096).
Each run writes OUT/NAME/log.csv (loss, pretext Acc@1, similarities, kNN) and OUT/NAME/logit_hist.csv. Its checkpoints
are deleted unless --keep-checkpoints. OUT/summary.csv gets a row per run, keeping the rows of variants not rerun,
and each run prints a JSON line. The figures, with the paper's numbers beside them, are in nbs/13_ablations.ipynb.

Budget: the committed results/ablations were made with the defaults, one run at a time, on a 2-core CPU (Zen 4)
that was busy with other work. Each run took 4 to 9 minutes; all 8 take under an hour.
To go bigger, pass moco-pretrain flags after `--`; they override the defaults. For example, the whole subset at the
preset's batch size: `--epochs 40 -- -b 512 --train-limit 10000 --val-limit 2000`. That is about 40 minutes per run
on such a CPU, or about a minute on a GPU.

Usage: python scripts/ablations.py [--epochs 8] [--parallel 1] [--workers 1] [--only base m0 ...] [--out results/ablations]
       [--max-minutes X] [--dry-run] [-- extra moco-pretrain flags]
"""
import argparse, csv, json, os, subprocess, sys, time
from pathlib import Path

VARIANTS = {
    'base': [],
    'no_shuffle_bn': ['--no-shuffle-bn'],
    'm0': ['--moco-m', '0'],
    'm0.9': ['--moco-m', '0.9'],
    'm0.999': ['--moco-m', '0.999'],
    'K512': ['--moco-k', '512'],
    'K1024': ['--moco-k', '1024'],
    'K16384': ['--moco-k', '16384'],
}
BASE = ['--dataset', 'cifar10-subset', '-a', 'resnet10', '--amp', 'bf16', '--channels-last', '--seed', '0',
        '-b', '128', '--train-limit', '2560', '--val-limit', '1000']

def command(name, args, extra):
    "The moco-pretrain command line of variant `name`."
    cmd = [sys.executable, '-m', 'moco_nb.pretrain', *BASE, *VARIANTS[name], '--epochs', str(args.epochs),
           '--knn-every', str(args.knn_every), '--save-every', str(args.epochs), '-j', str(args.workers),
           '--output-dir', str(Path(args.out)/name), '--overwrite']            # a rerun replaces the variant's old run
    if args.max_minutes is not None: cmd += ['--max-minutes', str(args.max_minutes)]
    return cmd + extra

def summarize(name, out, minutes, returncode):
    "One summary row from a finished run's log.csv."
    rows = list(csv.DictReader(open(out/'log.csv'))) if (out/'log.csv').exists() else []
    knn = [float(r['knn_top1']) for r in rows if r['knn_top1']]
    last = rows[-1] if rows else {}
    return dict(name=name, flags=' '.join(VARIANTS[name]) or '(base)', returncode=returncode, epochs=len(rows),
                knn_top1=knn[-1] if knn else None, best_knn_top1=max(knn) if knn else None,
                acc1=float(last['acc1']) if last else None, loss=float(last['loss']) if last else None,
                minutes=round(minutes, 2))

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--epochs', type=int, default=8)
    p.add_argument('--knn-every', type=int, default=2)
    p.add_argument('--parallel', type=int, default=1, help='runs at a time (on one GPU, several fit side by side)')
    p.add_argument('--workers', type=int, default=1, help='data loading workers per run')
    p.add_argument('--only', nargs='+', choices=list(VARIANTS), default=list(VARIANTS))
    p.add_argument('--out', default='results/ablations')
    p.add_argument('--max-minutes', type=float, default=None, help='passed to each run (stops cleanly, with its logs)')
    p.add_argument('--keep-checkpoints', action='store_true')
    p.add_argument('--dry-run', action='store_true', help='print the commands only')
    argv = sys.argv[1:] if argv is None else list(argv)
    extra = argv[argv.index('--') + 1:] if '--' in argv else []
    args = p.parse_args(argv[:argv.index('--')] if '--' in argv else argv)
    cmds = {name: command(name, args, extra) for name in args.only}
    if args.dry_run:
        for c in cmds.values(): print(' '.join(c[1:]))
        return
    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    pending, running, rows = list(cmds), {}, []
    while pending or running:
        while pending and len(running) < args.parallel:
            name = pending.pop(0)
            (out/name).mkdir(parents=True, exist_ok=True)
            log = open(out/name/'stdout.txt', 'w')
            running[name] = (subprocess.Popen(cmds[name], stdout=log, stderr=subprocess.STDOUT, env=env), time.time(), log)
            print(f"started {name}: {' '.join(cmds[name][1:])}", file=sys.stderr, flush=True)
        time.sleep(1)
        for name, (proc, t0, log) in list(running.items()):
            if proc.poll() is None: continue
            log.close(); del running[name]
            if not args.keep_checkpoints:
                for ck in (out/name).glob('checkpoint_*.pth.tar'): ck.unlink()
            row = summarize(name, out/name, (time.time() - t0) / 60, proc.returncode)
            rows.append(row)
            print(json.dumps(row), flush=True)
    if (out/'summary.csv').exists():                      # keep the rows of variants not run this time
        done = {r['name'] for r in rows}
        rows += [r for r in csv.DictReader(open(out/'summary.csv')) if r['name'] not in done]
    rows.sort(key=lambda r: list(VARIANTS).index(r['name']))
    with open(out/'summary.csv', 'w', newline='') as f:
        w = csv.DictWriter(f, list(rows[0])); w.writeheader(); w.writerows(rows)
    failed = [r['name'] for r in rows if r['returncode'] != 0]
    if failed: sys.exit(f"failed runs: {', '.join(failed)} (see {out}/NAME/stdout.txt)")

if __name__ == '__main__': main()
