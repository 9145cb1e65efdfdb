"""The default job's two input pipelines at equal images seen: is the fast one as good?

Runs `moco-demo --epochs E --seed S` (the default job's preset, a fixed number of epochs instead of a time budget) with
the classic DataLoader (`--no-device-aug`: PIL per image in one worker process) and with the default in-memory batched
views (`--device-aug`), for each seed, and compares the backbone kNN and linear-probe top-1.
Each run writes OUT/ARM/seedS/summary.json, log.csv and stdout.txt (its checkpoints and plot are deleted); a run whose summary.json exists
is skipped, so an interrupted grid continues where it stopped. OUT/summary.csv gets one row per run, and the last
lines printed are JSON: mean, sd and n per arm, then for kNN and the linear probe the gap of the means, the paired
differences (device minus classic, seed by seed) and whether the device arm's mean is at most half a standard deviation
(pooled over both arms) below the classic one's, the bar the change had to clear for kNN.

Usage: python scripts/pipeline_ab.py [--seeds 0 1 2 3] [--epochs 10] [--out results/pipeline_ab]
"""
import argparse, csv, json, statistics, subprocess, sys
from pathlib import Path

ARMS = {'classic': ['--no-device-aug'], 'device': ['--device-aug']}
FIELDS = ['arm', 'seed', 'knn_top1', 'linear_top1', 'images_seen', 'epochs', 'step_img_s', 'train_img_s', 'pretrain_minutes',
          'precision', 'device']

def run(arm, seed, args):
    "The summary of one run, running it unless its folder holds a finished one."
    out = Path(args.out)/arm/f'seed{seed}'
    if not (out/'summary.json').exists():
        cmd = [sys.executable, '-m', 'moco_nb.demo', '--epochs', str(args.epochs), '--minutes', '60', '--seed', str(seed),
               '--output-dir', str(out), *ARMS[arm]]
        print(' '.join(cmd), flush=True)
        out.mkdir(parents=True, exist_ok=True)
        with open(out/'stdout.txt', 'w') as f: subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, check=True)
        for f in [*out.glob('checkpoint_*.pth.tar'), out/'curves.png']: f.unlink(missing_ok=True)   # kept small: logs and summary stay
    return json.loads((out/'summary.json').read_text())

def mean_sd(xs): return dict(mean=round(statistics.mean(xs), 2), sd=round(statistics.stdev(xs), 2) if len(xs) > 1 else None, n=len(xs))

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2, 3])
    p.add_argument('--epochs', type=int, default=10)
    p.add_argument('--out', default='results/pipeline_ab')
    args = p.parse_args(argv)
    rows = [dict(arm=arm, seed=seed, **{k: v for k, v in run(arm, seed, args).items() if k in FIELDS}) for seed in args.seeds for arm in ARMS]
    with open(Path(args.out)/'summary.csv', 'w', newline='') as f:
        w = csv.DictWriter(f, FIELDS); w.writeheader(); w.writerows(rows)
    stats = {arm: {m: mean_sd([r[m] for r in rows if r['arm'] == arm]) for m in ('knn_top1', 'linear_top1', 'train_img_s')} for arm in ARMS}
    for arm, s in stats.items(): print(json.dumps(dict(arm=arm, epochs=args.epochs, **s)))
    if len(args.seeds) > 1:
        for m in ('knn_top1', 'linear_top1'):
            by = {arm: [r[m] for r in rows if r['arm'] == arm] for arm in ARMS}
            pooled = ((statistics.variance(by['classic']) + statistics.variance(by['device'])) / 2) ** 0.5
            paired = [d - c for c, d in zip(by['classic'], by['device'])]   # the same seed: the same images, order and init
            print(json.dumps(dict(metric=m, gap_device_minus_classic=round(statistics.mean(paired), 2), pooled_sd=round(pooled, 2),
                                  within_half_sd=statistics.mean(paired) >= -pooled / 2, paired=dict(mean_sd(paired), seeds_lower=sum(d < 0 for d in paired)))))

if __name__ == '__main__': main()
