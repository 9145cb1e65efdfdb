"""Does the data pipeline keep the model fed? One JSON line per input pipeline of the default job (a benchmark, not a test).

For the default job's preset (moco-demo's pretraining run on the embedded CIFAR-10 subset) it measures, in one run:
  - step_img_s: the model's training step alone, on a batch already in memory, in the precision --amp auto picks;
  - data_img_s: the input pipeline alone, batches of two views per image with no model;
  - loop_img_s: the whole training loop through moco-pretrain (images seen / seconds spent training);
  - loop_over_step: loop_img_s / step_img_s, the share of the model's speed the loop reaches (1 = never waits for data),
for the classic DataLoader (PIL per image in -j worker processes) and the in-memory batched views (--device-aug).
Every line names the CPU's capability, whether it has native bf16, the precision and the threads.
Usage: .venv/bin/python bench/pipeline.py [--epochs 2] [--batches 10] [-j 1]
  (ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 before it approximates an AVX2-only CPU)
"""
import argparse, json, tempfile, time
import torch
from moco_nb import demo, pretrain
from moco_nb.launch import setup_process
from moco_nb.precision import native_bf16
from moco_nb.device_aug import BatchAugment, DevicePrefetcher

def data_img_s(pargs, batches):
    "Images per second of the input pipeline of `pargs` alone: `batches` batches of two views each, after one warm-up batch."
    device = setup_process(pargs, 0)
    train, *_ = pretrain.build_datasets(pargs)
    loader = pretrain.build_loader(train, pargs, device)
    loader.sampler.set_epoch(0)
    if pargs.device_aug: loader = DevicePrefetcher(loader, BatchAugment(pretrain._transforms(pargs)[0]), device, seeds=iter(range(10**6)))
    it = iter(loader)
    next(it)                                                       # warm-up: the workers' start
    t = time.perf_counter()
    for _ in range(batches): next(it)
    return batches * pargs.batch_size / (time.perf_counter() - t)

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--epochs', type=int, default=2, help='epochs of the whole-loop measurement (default: 2)')
    p.add_argument('--batches', type=int, default=10, help='batches of the pipeline-alone measurement (default: 10)')
    p.add_argument('-j', '--workers', type=int, default=1, help='loader processes of the classic pipeline (default: 1, the demo\'s)')
    opts = p.parse_args()
    cpu = torch.device('cpu')
    base = demo.get_parser().parse_args(['-j', str(opts.workers)])
    amp = demo.choose_precision(base, pretrain.parse_args(demo.pretrain_argv(base, 1)))
    step = None
    for device_aug in (False, True):
        args = demo.get_parser().parse_args(['-j', str(opts.workers), '--output-dir', tempfile.mkdtemp(prefix='bench-pipeline-'),
                                             '--minutes', '60', '--device-aug' if device_aug else '--no-device-aug'])
        argv = demo.pretrain_argv(args, opts.epochs, amp)
        pargs = pretrain.parse_args(argv)
        step = step or demo.step_img_s(pargs, amp)                 # the same model in both: measured once
        data = data_img_s(pretrain.parse_args(argv), opts.batches)   # parsed anew: setup_process splits the batch in place
        res = pretrain.main(argv + ['--print-freq', '1000'])
        loop = res['images_seen'] / res['train_seconds']
        print(json.dumps(dict(bench='pipeline', pipeline='device-aug (in memory)' if device_aug else f'classic DataLoader (-j {opts.workers})',
                              cpu_capability=torch.backends.cpu.get_cpu_capability(), native_bf16=native_bf16(cpu),
                              precision=amp or 'fp32', threads=torch.get_num_threads(), batch_size=pargs.batch_size,
                              step_img_s=round(step, 1), data_img_s=round(data, 1), loop_img_s=round(loop, 1),
                              loop_over_step=round(loop / step, 3), loop_images=res['images_seen'])), flush=True)

if __name__ == '__main__': main()
