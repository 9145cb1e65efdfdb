"""CPU speed of the batched augmentation (moco_nb.device_aug) against the classic per-image pipeline: one JSON line.

Both paths start from the files of N embedded Imagenette photographs (224x224 JPEGs) and make two views of each at
SIZE pixels with one recipe, in one thread (as one DataLoader worker would):
  - classic: PIL decode (moco_nb.data.rgb_loader) and TwoCropsTransform(<recipe>(SIZE)), image by image;
  - batched: BytesDataset reads, decode_batch on the CPU, BatchAugment(recipe, SIZE).two_views on the whole batch.
It prints pairs per second for both, the batched path's read, decode and augment seconds, and
torch.backends.cpu.get_cpu_capability(). A benchmark, not a test: the batched path is meant for the GPU.
Usage: .venv/bin/python bench/device_aug.py [--n 256] [--size 224] [--recipe v2]
"""
import argparse, json, os, time
import torch
from moco_nb.augment import TwoCropsTransform, moco_v1_transform, moco_v2_transform
from moco_nb.data import balanced_subset, imagenette_subset, rgb_loader
from moco_nb.device_aug import BatchAugment, BytesDataset, decode_batch

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--n', type=int, default=256)
    p.add_argument('--size', type=int, default=224)
    p.add_argument('--recipe', choices=['v1', 'v2'], default='v2')
    a = p.parse_args()
    torch.set_num_threads(1)
    ds = balanced_subset(imagenette_subset('train'), a.n)
    paths = [ds.dataset.samples[i][0] for i in ds.indices]
    classic = TwoCropsTransform({'v1': moco_v1_transform, 'v2': moco_v2_transform}[a.recipe](a.size))
    aug, raw = BatchAugment(a.recipe, a.size), BytesDataset(ds)
    torch.manual_seed(0)
    for f in paths[:8]: classic(rgb_loader(f))                       # warm-up, both paths
    aug.two_views(decode_batch([raw[i][0] for i in range(8)]))

    t = time.perf_counter()
    for f in paths: classic(rgb_loader(f))
    t_classic = time.perf_counter() - t

    t0 = time.perf_counter()
    data = [raw[i][0] for i in range(len(raw))]
    t1 = time.perf_counter()
    imgs = decode_batch(data, 'cpu')
    t2 = time.perf_counter()
    q, k = aug.two_views(imgs)
    t3 = time.perf_counter()
    print(json.dumps(dict(bench='device_aug', recipe=a.recipe, images=len(paths), size=a.size, threads=torch.get_num_threads(),
                          cpu_capability=torch.backends.cpu.get_cpu_capability(), cpu_count=os.cpu_count(),
                          classic_pairs_per_s=round(len(paths) / t_classic, 1), batched_pairs_per_s=round(len(paths) / (t3 - t0), 1),
                          batched_read_s=round(t1 - t0, 3), batched_decode_s=round(t2 - t1, 3), batched_augment_s=round(t3 - t2, 3),
                          classic_s=round(t_classic, 3))), flush=True)

if __name__ == '__main__': main()
