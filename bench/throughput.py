"""Throughput of MoCo pretraining on this machine, printed as JSON lines (a benchmark, not a test).

For each configuration (the demo's former CPU preset, ResNet-10 of width 64 at 32 px; ResNet-50 at 224 px) it prints:
  - step_img_s: the training step alone (query forward+backward, key forward, queue), on one batch held in memory;
  - epoch_img_s: a whole epoch through `moco-pretrain` (data loading, augmentation and all), from its CSV log;
  - step_tflops: the step's achieved FLOP/s (FLOPs counted by torch.utils.flop_counter), and
    peak_fraction: that rate divided by this machine's measured convolution peak (the best of a few large convolutions
    in the same precision), and epoch_fraction: epoch_img_s / step_img_s.
Usage: .venv/bin/python bench/throughput.py [--quick]
"""
import copy, json, sys, tempfile, time, csv
import torch
from torch.utils.flop_counter import FlopCounterMode
from moco_nb import pretrain
from moco_nb.engine import train_step
from moco_nb.precision import step_rate as step_rate_of

def conv_peak(dtype, threads):
    "Best FLOP/s of a few large 3x3 convolutions (forward) in `dtype` autocast, channels-last."
    best = 0.
    for c, hw, n in [(64, 56, 32), (128, 28, 64), (256, 14, 128)]:
        conv = torch.nn.Conv2d(c, c, 3, padding=1, bias=False).to(memory_format=torch.channels_last)
        x = torch.randn(n, c, hw, hw).contiguous(memory_format=torch.channels_last)
        flops = 2 * n * c * c * 9 * hw * hw
        with torch.no_grad(), torch.autocast('cpu', dtype=dtype, enabled=dtype != torch.float32):
            conv(x)
            t = time.perf_counter(); reps = 3
            for _ in range(reps): conv(x)
            best = max(best, reps * flops / (time.perf_counter() - t))
    return best

def step_rate(argv, steps):
    "(img/s, FLOPs per step) of the training step alone for `moco-pretrain` arguments `argv`, timed by the package's one step timer."
    args = pretrain.parse_args(argv)
    model = pretrain.build_model(args)
    if args.channels_last: model = model.to(memory_format=torch.channels_last)
    x = torch.randn(args.batch_size, 3, args.image_size, args.image_size)
    with FlopCounterMode(display=False) as fc:                     # on a copy: the timed model is untouched
        net = copy.deepcopy(model)
        train_step(net, x, x, torch.optim.SGD(net.parameters(), 0.0), torch.amp.GradScaler('cpu', enabled=False), args.amp)
    return step_rate_of(model, args, torch.device('cpu'), args.amp, steps), fc.get_total_flops()

def epoch_rate(argv):
    "img/s of one whole epoch through the launcher (read from its CSV log)."
    out = tempfile.mkdtemp()
    pretrain.main(argv + ['--epochs', '1', '--output-dir', out, '--print-freq', '1000'])
    with open(f'{out}/log.csv') as f: return float(list(csv.DictReader(f))[-1]['img_per_s'])

def main():
    quick = '--quick' in sys.argv
    threads = torch.get_num_threads()
    configs = [
        ('former cpu-preset resnet10 w64 32px bf16 b256', torch.bfloat16,
         ['--dataset', 'cifar10-subset', '-a', 'resnet10', '-b', '256', '--moco-k', '4096', '--amp', 'bf16', '--channels-last', '-j', '1',
          '--train-limit', '1280' if quick else '5120']),
        ('resnet50 224px fp32 b32', torch.float32,
         ['--dataset', 'imagenette-subset', '-a', 'resnet50', '-b', '32', '--moco-k', '256', '--image-size', '224', '-j', '1',
          '--train-limit', '64' if quick else '128', '--bn-splits', '1']),
        ('resnet50 224px bf16 b32', torch.bfloat16,
         ['--dataset', 'imagenette-subset', '-a', 'resnet50', '-b', '32', '--moco-k', '256', '--image-size', '224', '-j', '1',
          '--train-limit', '64' if quick else '128', '--bn-splits', '1', '--amp', 'bf16', '--channels-last']),
    ]
    peaks = {}
    for name, dtype, argv in configs:
        if dtype not in peaks: peaks[dtype] = conv_peak(dtype, threads)
        step_img_s, flops = step_rate(argv, 2 if quick else 4)
        epoch_img_s = epoch_rate(argv)
        step_flops_s = step_img_s / pretrain.parse_args(argv).batch_size * flops
        print(json.dumps(dict(config=name, threads=threads, step_img_s=round(step_img_s, 1), epoch_img_s=round(epoch_img_s, 1),
                              epoch_fraction=round(epoch_img_s / step_img_s, 3), step_gflop_per_img=round(flops / pretrain.parse_args(argv).batch_size / 1e9, 3),
                              step_tflops=round(step_flops_s / 1e12, 4), conv_peak_tflops=round(peaks[dtype] / 1e12, 4),
                              peak_fraction=round(step_flops_s / peaks[dtype], 3))), flush=True)

if __name__ == '__main__': main()
