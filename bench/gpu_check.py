"""One command that checks and measures the GPU path end to end, printing one JSON line per figure (a benchmark, not a test).

On one GPU (about 5 minutes on a recent card; the whole must stay under 8):
  1. env:         the GPU's name, torch, CUDA and cuDNN versions;
  2. step:        MoCo v2 ResNet-50 at 224 px (MLP head, K=65536, tau 0.2), the training step alone on one batch held on
                  the GPU, channels-last, in fp32, bf16 and fp16 (with the GradScaler): images per second;
  3. torchrun:    `moco-pretrain` under torchrun on one GPU with NCCL, MoCo v2 on the embedded Imagenette JPEGs, once with
                  the classic pipeline (PIL in loader workers) and once with --device-aug (nvjpeg and batched per-image
                  augmentation on the GPU): the last epoch's whole-epoch images per second, from the run's log, beside
                  that preset's training step alone (bf16), and their ratio loop_over_step (1: the GPU never waits);
  4. lincls:      `moco-lincls` on that checkpoint for one epoch, then --resume to a second: the resume works on the GPU.
Every line carries "device" (the GPU's name, or the CPU's capability) and "ok". The script exits 1 if a check failed.

--dry-run does the same on the CPU at toy sizes (ResNet-10 at 32 px, a few CIFAR images, gloo instead of NCCL), so the
script is known to start and to reach its end before a GPU is lent; its speeds mean nothing.
Usage: .venv/bin/python bench/gpu_check.py [--dry-run] [--workers N] [--keep DIR]
"""
import argparse, csv, json, os, subprocess, sys, tempfile, time
from pathlib import Path
import torch
from moco_nb import pretrain
from moco_nb.precision import device_name, step_rate

ROOT = Path(__file__).resolve().parent.parent
DEVICE = None                 # the name every JSON line carries: set once by main

def emit(check, **fields):
    "Print one JSON line."
    print(json.dumps(dict(check=check, device=DEVICE, **fields)), flush=True)
    return fields.get('ok', True)

def step_rates(dry):
    "The training step's images per second in fp32, bf16 and fp16, on one batch held on the device."
    argv = (['--dataset', 'cifar10-subset', '-a', 'resnet10', '-b', '8', '--moco-k', '64', '--bn-splits', '2'] if dry else
            ['-a', 'resnet50', '-b', '128', '--mlp', '--moco-t', '0.2', '--moco-k', '65536', '--image-size', '224', 'unused']) + ['--channels-last']
    args = pretrain.parse_args(argv)
    device = torch.device('cpu' if dry else 'cuda')
    model = pretrain.build_model(args).to(device).to(memory_format=torch.channels_last)
    ok = True
    for amp in (None, 'bf16', 'fp16'):
        if dry and amp == 'fp16': continue                              # fp16 autocast is a GPU feature
        try: rate, err = step_rate(model, args, device, amp, steps=2 if dry else 10), None
        except Exception as e: rate, err = None, f"{type(e).__name__}: {e}"[:300]
        ok &= emit('step', model=f"{args.arch} {args.image_size}px b{args.batch_size}", precision=amp or 'fp32',
                   img_per_s=None if rate is None else round(rate, 1), ok=err is None, error=err)
    return ok

def run_flags(dry):
    "The pretraining preset of the torchrun check (its data set, model and precision)."
    return (['--dataset', 'cifar10-subset', '-a', 'resnet10', '-b', '8', '--moco-k', '64', '--epochs', '2', '--train-limit', '32',
             '--bn-splits', '2'] if dry else
            ['--dataset', 'imagenette-subset', '-a', 'resnet50', '-b', '128', '--lr', '0.015', '--moco-k', '1024', '--mlp',
             '--moco-t', '0.2', '--aug-plus', '--cos', '--epochs', '3', '--amp', 'bf16']) + ['--channels-last']

def run_step_rate(dry):
    "Images per second of the torchrun preset's training step alone, on one batch held on the device (the loop's ceiling)."
    args = pretrain.parse_args(run_flags(dry))
    device = torch.device('cpu' if dry else 'cuda')
    model = pretrain.build_model(args).to(device).to(memory_format=torch.channels_last)
    return step_rate(model, args, device, args.amp, steps=2 if dry else 10)

def pretrain_run(out, device_aug, dry, workers):
    "moco-pretrain under torchrun on one device; (return code, last log row, seconds, stderr tail)."
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '1', '-m', 'moco_nb.pretrain', '--seed', '0',
           '--output-dir', str(out), '--overwrite', '-j', str(workers), *run_flags(dry), '--device-aug' if device_aug else '--no-device-aug']
    t = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '4')))
    rows = list(csv.DictReader(open(out/'log.csv'))) if (out/'log.csv').exists() else []
    return p.returncode, (rows[-1] if rows else {}), time.time() - t, p.stderr[-600:]

def lincls_resume(ckpt, out, dry, workers):
    "moco-lincls for one epoch, then --resume to a second; (ok, error)."
    base = [sys.executable, '-m', 'moco_nb.lincls', '--pretrained', str(ckpt), '--seed', '0', '-j', str(workers), '--output-dir', str(out)]
    base += (['--dataset', 'cifar10-subset', '-a', 'resnet10', '--cifar-stem', '--image-size', '32', '-b', '16', '--train-limit', '32',
              '--val-limit', '20'] if dry else ['--dataset', 'imagenette-subset', '-a', 'resnet50', '-b', '128'])
    first = subprocess.run(base + ['--epochs', '1'], capture_output=True, text=True, cwd=ROOT)
    if first.returncode: return False, first.stderr[-400:]
    last = sorted(out.glob('*.pth.tar'), key=os.path.getmtime)
    if not last: return False, f"no checkpoint in {out}"
    second = subprocess.run(base + ['--epochs', '2', '--resume', str(last[-1])], capture_output=True, text=True, cwd=ROOT)
    return second.returncode == 0, (second.stderr[-400:] if second.returncode else None)

def main(argv=None):
    global DEVICE
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--dry-run', action='store_true', help='the same checks on the CPU at toy sizes')
    p.add_argument('--workers', type=int, default=None, help='loader workers (default: 0 with --dry-run, else 8)')
    p.add_argument('--keep', default=None, help='keep the runs in this folder (default: a temporary one)')
    args = p.parse_args(argv)
    dry, workers = args.dry_run, args.workers if args.workers is not None else (0 if args.dry_run else 8)
    if not dry and not torch.cuda.is_available():
        sys.exit("gpu_check: no CUDA device here; run with --dry-run to check the script on the CPU")
    DEVICE = device_name(torch.device('cpu' if dry else 'cuda'))
    work = Path(args.keep or tempfile.mkdtemp(prefix='gpu_check-')); work.mkdir(parents=True, exist_ok=True)
    t0, ok = time.time(), True
    ok &= emit('env', torch=torch.__version__, cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version() if torch.cuda.is_available() else None,
               dry_run=dry)
    ok &= step_rates(dry)
    step = run_step_rate(dry)
    for pipeline, device_aug in (('classic', False), ('device', True)):
        rc, row, secs, err = pretrain_run(work/f'pretrain_{pipeline}', device_aug, dry, workers)
        loop = float(row['img_per_s']) if row else None
        ok &= emit('torchrun', pipeline=pipeline, backend='gloo' if dry else 'nccl', workers=workers, step_img_per_s=round(step, 1),
                   epoch_img_per_s=loop, loop_over_step=round(loop / step, 3) if loop else None, epochs=int(row['epoch']) + 1 if row else 0,
                   seconds=round(secs, 1), ok=rc == 0, error=err if rc else None)
    ckpt = sorted((work/'pretrain_classic').glob('checkpoint_*.pth.tar'))
    good, err = lincls_resume(ckpt[-1], work/'lincls', dry, workers) if ckpt else (False, 'no pretraining checkpoint')
    ok &= emit('lincls_resume', ok=good, error=err)
    emit('done', seconds=round(time.time() - t0, 1), ok=bool(ok), runs=str(work))
    sys.exit(0 if ok else 1)

if __name__ == '__main__': main()
