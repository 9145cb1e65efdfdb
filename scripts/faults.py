"""Fault injection: a run killed (kill -9), terminated (SIGTERM) or interrupted (SIGINT) at random moments and resubmitted
with `--resume auto` until it finishes must end bit for bit where the uninterrupted run ends.

    python scripts/faults.py lincls --trials 10          # or: pretrain

First one uninterrupted reference run. Then each trial starts the same command into a fresh folder, sends a random one of
the three signals after a random delay (between 0.5 s and 80% of the reference run's duration; up to three faults), and
resubmits the command with `--resume auto` until a submission exits 0. A trial whose first submission finished before its
signal is drawn again, so that every trial counted had at least one fault. It then compares the trial's final
checkpoint(s) with the reference's (every tensor of the model and the SGD state, `best_acc1` for lincls), its logs
apart from the timing columns, and checks that no temporary file (`.*.tmp`) is left. One JSON line per trial, then a
summary line; exit status 1 if any trial differs. Results of the committed runs: results/faults/.
"""
import argparse, csv, json, os, random, shutil, signal, subprocess, sys, tempfile, time
from pathlib import Path
import torch

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
KINDS = {   # command, checkpoints compared, logs compared (their timing columns left out)
    'lincls': ([str(BIN/'moco-lincls'), '--dataset', 'cifar10-subset', '--pretrained', str(ROOT/'checkpoints'/'moco_r10_cifar10_subset.pth.tar'),
                '--train-limit', '1000', '--val-limit', '200', '--epochs', '3', '--schedule', '2', '-b', '100', '-j', '0', '-p', '0', '--seed', '0'],
               ['checkpoint.pth.tar', 'model_best.pth.tar'], {'lincls_log.csv': ('seconds',)}),
    'pretrain': ([str(BIN/'moco-pretrain'), '--dataset', 'cifar10-subset', '-a', 'resnet10', '--width', '32', '--stem-stride', '2', '-b', '64',
                  '--moco-k', '512', '--train-limit', '640', '--epochs', '2', '--seed', '0', '--knn-every', '1', '--print-freq', '1000'],
                 ['checkpoint_0001.pth.tar'], {'log.csv': ('img_per_s', 'seconds'), 'logit_hist.csv': ()}),
}
SIGNALS = (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)
ENV = dict(os.environ, OMP_NUM_THREADS='1')          # the same reductions in every run: bit for bit needs them

def run(cmd, out, kill_after=None, sig=None):
    "Run `cmd` into `out`; with `kill_after`, send `sig` after that many seconds. Returns the exit status."
    with open(out/'.submissions.txt', 'a') as log:
        p = subprocess.Popen(cmd + ['--output-dir', str(out)], stdout=log, stderr=subprocess.STDOUT, env=ENV)
        if kill_after is not None:
            try: return p.wait(kill_after)
            except subprocess.TimeoutExpired: p.send_signal(sig)
        return p.wait()

def same_checkpoint(a, b):
    "Every tensor of two checkpoints equal (model, SGD momentum, best_acc1); the same keys."
    a, b = (torch.load(p, weights_only=True) for p in (a, b))
    if a.keys() != b.keys() or a['state_dict'].keys() != b['state_dict'].keys(): return False
    oa, ob = a['optimizer']['state'], b['optimizer']['state']
    return (all(torch.equal(a['state_dict'][k], b['state_dict'][k]) for k in a['state_dict'])
            and all(torch.equal(oa[i]['momentum_buffer'], ob[i]['momentum_buffer']) for i in oa)
            and ('best_acc1' not in a or torch.equal(torch.as_tensor(a['best_acc1']), torch.as_tensor(b['best_acc1']))))

def rows(path, timing):
    return [{k: v for k, v in r.items() if k not in timing} for r in csv.DictReader(open(path))]

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('kind', choices=list(KINDS))
    p.add_argument('--trials', type=int, default=10)
    p.add_argument('--seed', type=int, default=0, help='of the random signals and delays')
    p.add_argument('--max-submissions', type=int, default=30)
    p.add_argument('--out', default=None, help='folder for the runs (default: a temporary one)')
    a = p.parse_args(argv)
    cmd, ckpts, logs = KINDS[a.kind]
    out = Path(a.out or tempfile.mkdtemp(prefix=f'faults-{a.kind}-'))
    rng = random.Random(a.seed)
    ref = out/'reference'; ref.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    if run(cmd + ['--overwrite'], ref) != 0: sys.exit(f"the reference run failed: see {ref}/.submissions.txt")
    ref_s = time.time() - t0
    print(json.dumps(dict(kind=a.kind, reference_seconds=round(ref_s, 1), cpu=torch.backends.cpu.get_cpu_capability())), flush=True)
    bad, trial = 0, 0
    while trial < a.trials:
        d = out/f'trial{trial}'
        if d.exists(): shutil.rmtree(d)
        d.mkdir()
        faults, codes = [], []
        for _ in range(a.max_submissions):
            sig, after = rng.choice(SIGNALS), rng.uniform(0.5, 0.8 * ref_s) if len(faults) < 3 else None   # then let it finish
            code = run(cmd + ['--resume', 'auto'], d, after, sig)
            codes.append(code)
            if after is not None and code != 0: faults.append((sig.name, round(after, 2)))
            if code == 0: break
        if not faults: continue                        # the run was faster than its signal: draw this trial again
        ok_ckpt = all(same_checkpoint(ref/c, d/c) for c in ckpts)
        ok_logs = all(rows(ref/f, t) == rows(d/f, t) for f, t in logs.items())
        left = sorted(f.name for f in d.glob('.*.tmp'))
        ok = codes[-1] == 0 and ok_ckpt and ok_logs and not left
        bad += not ok
        print(json.dumps(dict(trial=trial, faults=faults, exit_codes=codes, checkpoints_equal=ok_ckpt, logs_equal=ok_logs,
                              temporary_files=left, ok=ok)), flush=True)
        trial += 1
    print(json.dumps(dict(kind=a.kind, trials=a.trials, passed=a.trials - bad, failed=bad, folder=str(out))), flush=True)
    sys.exit(1 if bad else 0)

if __name__ == '__main__': main()
