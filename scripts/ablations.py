"""The paper's ablations at small scale: `moco-pretrain` runs on the embedded CIFAR-10 subset, by default three seeds per variant.

Every variant changes one thing of a base run that stays healthy (its loss falls, its negatives spread out): a CIFAR-stem
ResNet-10 of width 32 with a stride-2 stem, all 10,000 training images, batch 64 (156 steps an epoch), 12 epochs
(1,872 steps), cosine lr 0.03, SplitBatchNorm in 2 groups of 32 with the key batch shuffled across them, m = 0.99,
K = 1,024 (the keys of 16 steps, a tenth of an epoch, so an image rarely meets its own older key as a negative),
tau = 0.1, crops of 20-100% of the image, bf16 where native (--precision); the kNN monitor (k=200, all 2,000 test images) every 3 epochs.
Groups of variants:
  paper:  shuffle BN off (--no-shuffle-bn); the momentum m in {0, 0.9, 0.999} (the base has 0.99).
  v2:     MoCo v2's changes one at a time, from the v1 recipe (linear head, tau 0.07, v1 augmentation, lr / 10 after
          60% and 80% of the epochs, 7 and 10 of 12): the MLP head with tau 0.2 (and with tau 0.07), aug+ (blur scaled to 32 px), both, and all of
          v2 (with cosine).
  drift:  tests of why m = 0.9 fails: a queue of 4 steps' keys (K = 256), the linearly scaled lr 0.0075 (the encoder
          moves 4x slower per step), and the base at that lr.
  dictionaries: the paper's Figure 3 small (nbs/13a_dictionaries.ipynb): MoCo and the memory bank at K = 64 to 4,096,
          end-to-end at K = B = 64 and 256 (--dictionary), and MoCo at m = 0, 0.9, 0.99 and 0.999 with the key
          encoder's consistency measured on 64 probe images (--key-probe 64: key_consistency.csv).
The 1,872 steps are long enough for the key encoder to move at m = 0.999: 0.999^1872 = 15% of its initial weights remain.
Each run writes OUT/NAME/seedS/log.csv (loss, pretext Acc@1/5, similarities, kNN on the head's features) and
logit_hist.csv, then is evaluated on its backbone's features (kNN k=200 and the L-BFGS linear probe of 11_demo, all 10,000
training and 2,000 test images) into eval.json with its command; checkpoints are deleted after that unless
--keep-checkpoints. A run whose eval.json holds the same flags is skipped, and a run stopped midway continues from its
last checkpoint (--resume auto; --eval-every makes them more frequent), so a grid left half-done, across sessions,
continues where it stopped. After every run OUT/summary.csv gets its row (rows of runs not rerun stay) and OUT/variants.csv the mean, sd
and n over the seeds of each variant. A run whose folder another run holds is skipped, its files untouched.
The figures, with the paper's numbers beside them, are in nbs/13_ablations.ipynb.

The views are made in the training process from the images held in memory (--device-aug, the CIFAR presets'
default); `-- --no-device-aug` brings the classic pipeline back. --eval-every N also scores the checkpoints after every
N epochs (eval.json's 'at'), to see how a variant's backbone improves with the budget.
Budget: on the 2-core Zen 5 CPU this was built on, the base run alone takes 2.7 minutes (164 s wall, bf16); a run
sharing the machine with another takes about twice that.
To go bigger, pass moco-pretrain flags after `--`; they override the defaults, e.g. `-- -a resnet18 --width 64 --stem-stride 1`.

Usage: python scripts/ablations.py [--group paper v2 drift dictionaries] [--only NAME ...] [--seeds 0 1 2] [--epochs 12] [--parallel 1]
       [--workers 1] [--out results/ablations] [--max-minutes X] [--eval-every N] [--precision bf16|fp32] [--dry-run]
       [-- extra moco-pretrain flags]
"""
import argparse, csv, json, os, statistics, subprocess, sys, time
from pathlib import Path
from moco_nb.errors import UsageError
from moco_nb.augment import dataset_eval_transform
from moco_nb.checkpoint import load_query_encoder
from moco_nb.data import get_dataset
from moco_nb.demo import evaluate_features
from moco_nb.encoders import encoder_flags
from moco_nb.launch import lock_folder
from moco_nb.runlog import merge_summary
from moco_nb.precision import native_bf16
import torch

V1 = ['--moco-t', '0.07', '--no-cos', '--schedule', '0.6E', '0.8E', '--augmentation', 'v1']   # lr / 10 at 60% and 80% of the epochs,
                                                                                      # as the official 120 and 160 of 200
GROUPS = {
    'paper': {'base': [], 'no_shuffle_bn': ['--no-shuffle-bn'],
              'm0': ['--moco-m', '0'], 'm0.9': ['--moco-m', '0.9'], 'm0.999': ['--moco-m', '0.999']},
    'v2': {'v1': V1,
           'v1+mlp': [*V1, '--mlp', '--moco-t', '0.2'],
           'v1+mlp_t0.07': [*V1, '--mlp'],                                     # the head without v2's temperature
           'v1+aug+': [*V1, '--augmentation', 'aug+'],
           'v1+mlp+aug+': [*V1, '--mlp', '--moco-t', '0.2', '--augmentation', 'aug+'],
           'v2': [*V1, '--mlp', '--moco-t', '0.2', '--augmentation', 'aug+', '--cos']},
    'drift': {'m0.9_K256': ['--moco-m', '0.9', '--moco-k', '256'],           # a queue of 4 steps' keys instead of 16
              'm0.9_lr0.0075': ['--moco-m', '0.9', '--lr', '0.0075'],        # the linearly scaled official lr: 4x slower drift
              'lr0.0075': ['--lr', '0.0075']},
    'dictionaries': {**{f'moco_K{k}': ['--moco-k', str(k)] for k in (64, 256, 4096)},          # K = 1,024 is the base
                     **{f'bank_K{k}': ['--dictionary', 'memory-bank', '--moco-k', str(k)] for k in (64, 256, 1024, 4096)},
                     'e2e_K64': ['--dictionary', 'end-to-end'],                                  # K = the batch
                     'e2e_K256': ['--dictionary', 'end-to-end', '-b', '256', '--lr', '0.12'],     # lr scaled with the batch
                     **{f'probe_m{m}': ['--moco-m', m, '--key-probe', '64'] for m in ('0', '0.9', '0.99', '0.999')}},
}
VARIANTS = {name: flags for group in GROUPS.values() for name, flags in group.items()}   # later flags win in argparse
BASE = ['--dataset', 'cifar10-subset', *encoder_flags(), '-b', '64',
        '--bn-splits', '2', '--lr', '0.03', '--moco-k', '1024', '--min-crop-scale', '0.2', '--channels-last']

CONTINUE, REPLACE = ['--resume', 'auto'], ['--overwrite']   # what a run does with its folder: continue a stopped run, or replace another run

def flags_of(name, epochs):
    "The flags of variant `name` in a run of `epochs` epochs: a fraction 'xE' of the epochs becomes round(x * epochs)."
    return [str(round(float(f[:-1]) * epochs)) if f.endswith('E') else f for f in VARIANTS[name]]

def command(name, seed, args, extra, replace=False):
    "The moco-pretrain command line of variant `name` with `seed`: it continues a run stopped in its folder, or with `replace`, replaces the run there."
    cmd = [sys.executable, '-m', 'moco_nb.pretrain', *BASE, *flags_of(name, args.epochs), '--seed', str(seed), '--epochs', str(args.epochs),
           '--knn-every', str(args.knn_every), '--save-every', str(args.eval_every or args.epochs), '-j', str(args.workers),
           '--output-dir', str(Path(args.out)/name/f'seed{seed}'), *(REPLACE if replace else CONTINUE)]
    if args.max_minutes is not None: cmd += ['--max-minutes', str(args.max_minutes)]
    if args.precision == 'bf16': cmd += ['--amp', 'bf16']
    return cmd + extra

def summarize(name, seed, out, returncode, extra=()):
    "The summary row of the run in folder `out`: from its log.csv and, once evaluated, its eval.json (which also names the CPU it ran on)."
    rows = list(csv.DictReader(open(out/'log.csv'))) if (out/'log.csv').exists() else []
    knn = [float(r['knn_top1']) for r in rows if r['knn_top1']]
    last = rows[-1] if rows else {}
    done = json.loads((out/'eval.json').read_text()) if returncode == 0 and (out/'eval.json').exists() else {}
    return dict(name=name, seed=seed, flags=' '.join((VARIANTS[name] or ['(base)']) + list(extra)), returncode=returncode, epochs=len(rows),
                cpu=done.get('cpu', ''), knn_top1=knn[-1] if knn else None, best_knn_top1=max(knn) if knn else None,
                acc1=float(last['acc1']) if last else None, loss=float(last['loss']) if last else None,
                minutes=round(float(last['seconds']) / 60, 2) if last else None,      # the run's own time, from its log
                **{k: done[k] for k in ('knn_backbone', 'linear_backbone') if k in done})

def cpu_model():
    "This machine's CPU as /proc/cpuinfo names it, with its family and model numbers (which tell Zen 4 from Zen 5), or ''."
    try: info = dict(l.split(':', 1) for l in Path('/proc/cpuinfo').read_text().split('\n\n')[0].splitlines() if ':' in l)
    except OSError: return ''
    info = {k.strip(): v.strip() for k, v in info.items()}
    return f"{info.get('model name', '?')} (family {info.get('cpu family', '?')}, model {info.get('model', '?')})"

def evaluate(folder, epochs, command, every=None):
    "Backbone kNN and linear-probe top-1 of the run in `folder` (its last checkpoint; with `every`, also the checkpoints after every `every` epochs, as 'at': {epoch: [kNN, linear]}), written with its `command` and the CPU to folder/eval.json."
    tfm = dataset_eval_transform('cifar10-subset')
    bank, queries = get_dataset('cifar10-subset', 'train', tfm), get_dataset('cifar10-subset', 'test', tfm)
    at = {}
    for e in sorted({*range(every, epochs + 1, every), epochs} if every else {epochs}):
        encoder, config = load_query_encoder(folder/f'checkpoint_{e - 1:04d}.pth.tar', layer='backbone')
        if config['epoch'] != e: raise RuntimeError(f"{folder}: checkpoint_{e - 1:04d} holds epoch {config['epoch']}, not {e}")
        at[e] = [round(v, 2) for v in evaluate_features(encoder, bank, queries)]
    res = dict(epochs=epochs, knn_backbone=at[epochs][0], linear_backbone=at[epochs][1], **({'at': at} if every else {}))
    (folder/'eval.json').write_text(json.dumps(dict(res, cpu=torch.backends.cpu.get_cpu_capability(), cpu_name=cpu_model(),
                                                   command=' '.join(command[1:]))))
    return res

def run_flags(command):
    "`command`'s flags as a string, without what it says to do with the folder's files (a run is the same run either way)."
    flags = ' '.join(command[1:]) if isinstance(command, list) else command
    for f in (CONTINUE, REPLACE): flags = flags.replace(' ' + ' '.join(f), '')
    return flags

def finished(folder, command):
    "Whether the run in `folder` finished and was evaluated, with this very `command`."
    f = folder/'eval.json'
    return f.exists() and run_flags(json.loads(f.read_text()).get('command', '')) == run_flags(command)

def mean_sd(xs):
    xs = [float(x) for x in xs if x not in (None, '')]
    if not xs: return dict(mean='', sd='', n=0)
    return dict(mean=round(statistics.mean(xs), 2), sd=round(statistics.stdev(xs), 2) if len(xs) > 1 else '', n=len(xs))

def variants_table(rows):
    "One row per variant: mean, sd and n over its seeds of the backbone kNN, the linear probe and the monitor's kNN."
    out = []
    for name in dict.fromkeys(r['name'] for r in rows):
        mine = [r for r in rows if r['name'] == name and str(r['returncode']) == '0']
        row = dict(name=name, flags=mine[0]['flags'] if mine else '')
        for col in ('knn_backbone', 'linear_backbone', 'knn_top1'):
            row.update({f'{col}_{k}': v for k, v in mean_sd([r.get(col) for r in mine]).items()})
        out.append(row)
    return out

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--group', nargs='+', choices=list(GROUPS), default=list(GROUPS))
    p.add_argument('--only', nargs='+', choices=list(VARIANTS), help='these variants (default: those of --group)')
    p.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    p.add_argument('--epochs', type=int, default=12)
    p.add_argument('--knn-every', type=int, default=3)
    p.add_argument('--parallel', type=int, default=1, help='runs at a time (on one GPU, several fit side by side)')
    p.add_argument('--workers', type=int, default=1, help='data loading workers per run')
    p.add_argument('--out', default='results/ablations')
    p.add_argument('--max-minutes', type=float, default=None, help='passed to each run (stops cleanly, with its logs)')
    p.add_argument('--keep-checkpoints', action='store_true')
    p.add_argument('--eval-every', type=int, default=None, metavar='N', help='also evaluate the backbone after every N epochs '
                   "(eval.json's 'at'; the runs save a checkpoint every N epochs)")
    p.add_argument('--precision', choices=['bf16', 'fp32'], default=None, help="of every run (default: bf16 where this CPU has it "
                   "natively, else fp32: chosen once, not timed per run as --amp auto would, which a busy machine can flip)")
    p.add_argument('--dry-run', action='store_true', help='print the commands only')
    argv = sys.argv[1:] if argv is None else list(argv)
    extra = argv[argv.index('--') + 1:] if '--' in argv else []
    args = p.parse_args(argv[:argv.index('--')] if '--' in argv else argv)
    args.precision = args.precision or ('bf16' if native_bf16(torch.device('cpu')) else 'fp32')
    names = args.only or [n for g in args.group for n in GROUPS[g]]
    cmds = {(n, s): command(n, s, args, extra) for n in names for s in args.seeds}
    if args.dry_run:
        for c in cmds.values(): print(' '.join(c[1:]))
        return
    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    pending, running, rows, busy = list(cmds), {}, [], []
    order = lambda r: (list(VARIANTS).index(r['name']), int(r['seed']))
    def record(row):                                        # the summary and the per-variant table, after every run
        nonlocal rows
        rows = merge_summary(out/'summary.csv', [row], keep=lambda r: r['name'] in VARIANTS, order=order)
        merge_summary(out/'variants.csv', variants_table(rows), key=('name',), keep=lambda r: False)
    summarized = {(r['name'], r['seed']) for r in csv.DictReader(open(out/'summary.csv'))} if (out/'summary.csv').exists() else set()
    while pending or running:
        while pending and len(running) < args.parallel:
            key = pending.pop(0); folder = out/key[0]/f'seed{key[1]}'
            if finished(folder, cmds[key]):                     # a grid left half-done continues where it stopped
                print(f"done already: {key[0]} seed {key[1]}", file=sys.stderr, flush=True)
                if (key[0], str(key[1])) not in summarized: record(summarize(*key, folder, 0, extra))   # its row, if lost
                continue
            try:                                          # another runner's run there: leave its stdout.txt alone
                with lock_folder(folder): pass
            except UsageError as e:
                print(f"skipped {key[0]} seed {key[1]}: {e}", file=sys.stderr, flush=True); busy.append(f"{key[0]} seed {key[1]}"); continue
            if (folder/'eval.json').exists():                    # another run finished there (other flags): replace it
                cmds[key] = command(*key, args, extra, replace=True)
            log = open(folder/'stdout.txt', 'a')
            running[key] = (subprocess.Popen(cmds[key], stdout=log, stderr=subprocess.STDOUT, env=env), log)
            print(f"started {key[0]} seed {key[1]}: {' '.join(cmds[key][1:])}", file=sys.stderr, flush=True)
        time.sleep(1)
        for key, (proc, log) in list(running.items()):
            if proc.poll() is None: continue
            log.close(); del running[key]
            folder = out/key[0]/f'seed{key[1]}'
            if proc.returncode == 0: evaluate(folder, args.epochs, cmds[key], args.eval_every)
            if not args.keep_checkpoints:
                for ck in folder.glob('checkpoint_*.pth.tar'): ck.unlink()
            row = summarize(*key, folder, proc.returncode, extra)
            record(row)
            print(json.dumps(row), flush=True)
    if not rows and busy: sys.exit(f"no run was made: {', '.join(busy)} in use by other runs")
    failed = [f"{r['name']} seed {r['seed']}" for r in rows if str(r['returncode']) != '0']
    failed += [f"{b} (in use, skipped)" for b in busy]
    if failed: sys.exit(f"failed runs: {', '.join(failed)} (see {out}/NAME/seedS/stdout.txt)")

if __name__ == '__main__': main()
