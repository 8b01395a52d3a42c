#!/usr/bin/env python3
"""Scale benchmark (issue 16): generated machines of growing RAM, dumped as a 256 MiB
capture kernel would, ours against Debian's makedumpfile 1.7.2.

    benches/scale.py [--sizes 16,64,256] [--configs "-l -d 31;-c -d 31"] [--threads 0,2]
                     [--runs 1] [--out benches/results] [--keep-vmcores]

For every RAM size a machine is generated (benches/examples/large_vmcore, seed 1, used
pages sampled from the real cloud-1g vmcore, page-cache and anonymous data left as holes:
-d 31 never reads them) into a scratch directory on tmpfs (/dev/shm by default): a real
/proc/vmcore is memory. On a disk file the benchmark measures the page cache instead:
readahead around the scattered used pages fills it with the zeroed holes of a sparse file
larger than RAM, and both tools then spend most of their time in the kernel (64 GiB -l -d 31:
9.7 s from disk, 1.7 s from tmpfs, for either tool). The dumps are written to tmpfs too:
on this VM's disk, writeback of the 1.9 GB `-l -d 31` dump of 256 GiB bounded both tools
(ours took 5.7 s with 2 threads as with none, 3.4-4.0 s writing to tmpfs), and the
benchmark would measure the disk.
Then for every configuration and thread count:
  - ours runs with MAKEDUMPFILE_RS_MEMFREE=180M (what a 256 MiB crashkernel leaves free)
    and --show-stats, which gives its plan: cyclic buffer, pfns per cycle, cycles;
  - makedumpfile runs with --cyclic-buffer set to that buffer, so it cycles as often,
    and serially once more with --non-mmap (faster on a regular file): its best time
    is the best of all its runs;
  - both outputs must be byte-identical (and identical across thread counts);
  - wall, CPU (user+sys) and peak RSS come from GNU time; struct pages scanned per second
    is RAM pages / wall, dumpable pages per second is the dump's pages / wall.
Writes scale.md (table, and issue 16's targets checked on it), scale.json (every run) and
scale.png (time per GiB and peak RSS against RAM size).

    benches/scale.py --linearity PAIRS [--sizes 16,256] [--configs ...] [--threads ...]

only times ours on the smallest and the largest size, alternating, PAIRS pairs per
configuration after one warm-up pair, and writes linearity.json: the time-per-GiB target
judged in pairs (see `linearity`). `--render` takes it with the table's JSON files. Run it with the drgn venv's python (matplotlib). 2 cores: two threads
is the most that runs in parallel here.
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get('MAKEDUMPFILE_RS_CACHE') or os.path.join(
    os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'), 'makedumpfile-rs')
BUDGET = '180M'


def timed(argv, out_path, env=None, may_fail=False):
    """Run argv + [out_path] under GNU time; return (wall, cpu, rss KiB, output, exit code).
    A failure ends the benchmark unless `may_fail` (makedumpfile's threaded runs: 1.7.2
    sometimes aborts with "libgcc_s.so.1 must be installed for pthread_exit to work")."""
    if os.path.exists(out_path):
        os.unlink(out_path)
    fig = out_path + '.time'
    proc = subprocess.run(['/usr/bin/time', '-f', '%e %U %S %M', '-o', fig] + argv + [out_path],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    text = proc.stdout.decode(errors='replace')
    with open(fig) as f:
        wall, user, sys_, rss = f.read().split()[-4:]
    os.unlink(fig)
    if proc.returncode != 0 and not may_fail:
        raise SystemExit(f'FAILED ({proc.returncode}): {" ".join(argv)}\n{text[-2000:]}')
    return float(wall), float(user) + float(sys_), int(rss), text, proc.returncode


def digest(path):
    return subprocess.run(['sha256sum', path], capture_output=True, text=True, check=True).stdout.split()[0]


def plan_of(stats):
    """(cyclic buffer bytes, pfns per cycle, cycles, dumpable pages) from our --show-stats."""
    buffer = int(re.search(r'Buffer size for the cyclic mode: (\d+)', stats).group(1))
    m = re.search(r'pfns per cycle\s*:\s*(\d+) \((\d+) cycles\)', stats)
    remaining = int(re.search(r'Remaining pages\s*:\s*0x([0-9a-f]+)', stats).group(1), 16)
    return buffer, int(m.group(1)), int(m.group(2)), remaining


def generate(size_gib, path, sample):
    gen = os.path.join(ROOT, 'target', 'release', 'examples', 'large_vmcore')
    out = subprocess.run([gen, '--ram-gib', str(size_gib), '--seed', '1', '--sample', sample,
                          '--no-user-data', path], capture_output=True, text=True, check=True).stdout
    facts = dict(kv.split('=') for kv in out.split())
    warm(path)
    return {k: int(v) for k, v in facts.items()}


def warm(path):
    """Read the file's data into the page cache, skipping its holes (most of it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        end, offset = os.fstat(fd).st_size, 0
        while offset < end:
            try:
                offset = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError:
                break
            hole = os.lseek(fd, offset, os.SEEK_HOLE)
            while offset < hole:
                chunk = os.pread(fd, min(1 << 24, hole - offset), offset)
                if not chunk:
                    break
                offset += len(chunk)
    finally:
        os.close(fd)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--sizes', default='16,64,256')
    ap.add_argument('--configs', default='-l -d 31;-c -d 31')
    ap.add_argument('--threads', default='0,2')
    ap.add_argument('--runs', type=int, default=1)
    ap.add_argument('--ours', default=os.path.join(ROOT, 'target', 'release', 'makedumpfile'))
    ap.add_argument('--ref', default='/usr/bin/makedumpfile')
    ap.add_argument('--sample', default=os.path.join(CACHE, 'vmcores', 'cloud-1g', 'vmcore'))
    ap.add_argument('--out', default=os.path.join(ROOT, 'benches', 'results'))
    ap.add_argument('--work', default='/dev/shm',
                    help='where the generated vmcores go: a tmpfs (a new directory is made in it)')
    ap.add_argument('--dumps', default=None,
                    help='where the dumps are written (default: the --work tmpfs)')
    ap.add_argument('--keep-vmcores', action='store_true')
    ap.add_argument('--linearity', type=int, metavar='PAIRS', default=0,
                    help='instead of the table: time ours on the smallest and the largest of '
                         '--sizes in PAIRS alternating pairs per configuration and write '
                         'linearity.json (the time-per-GiB target, measured in pairs)')
    ap.add_argument('--render', nargs='+', metavar='JSON',
                    help='only write scale.md/png/json into --out from the results of earlier runs '
                         '(e.g. small sizes with --runs 3 and the largest with --runs 1)')
    args = ap.parse_args()
    if args.render:
        return render(args.render, args.out)
    for path in (args.ours, args.ref, args.sample):
        if not os.path.exists(path):
            raise SystemExit(f'missing: {path}')
    subprocess.run(['cargo', 'build', '--release', '-q', '-p', 'makedumpfile-benches',
                    '--example', 'large_vmcore'], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix='mdf-scale-', dir=args.work)
    dumps = tempfile.mkdtemp(prefix='mdf-scale-dumps-', dir=args.dumps or args.work)
    ours_env = dict(os.environ, MAKEDUMPFILE_RS_MEMFREE=BUDGET)
    if args.linearity:
        return linearity(args, work, dumps, ours_env)
    results = []
    for size in [int(s) for s in args.sizes.split(',')]:
        vmcore = os.path.join(work, f'vmcore-{size}g')
        facts = generate(size, vmcore, args.sample)
        print(f'{size} GiB: {facts}', flush=True)
        for opts in [c.split() for c in args.configs.split(';') if c.strip()]:
            reference_digest = None
            for n in [int(t) for t in args.threads.split(',')]:
                extra = ['--num-threads', str(n)] if n else []
                out = os.path.join(dumps, 'dump')
                runs = {'ours': [], 'makedumpfile': []}
                for _ in range(args.runs):
                    wall, cpu, rss, text, code = timed(
                        [args.ours] + opts + extra + ['--show-stats', vmcore], out, ours_env)
                    buffer, pfns_per_cycle, cycles, dumpable = plan_of(text)
                    ours_digest = digest(out)
                    runs['ours'].append((wall, cpu, rss, code))
                    kib = max(1, buffer // 1024)
                    wall, cpu, rss, _, code = timed(
                        [args.ref] + opts + extra + ['--cyclic-buffer', str(kib), vmcore], out,
                        may_fail=n > 0)
                    runs['makedumpfile'].append((wall, cpu, rss, code))
                    if code == 0 and digest(out) != ours_digest:
                        raise SystemExit(f'{size} GiB {" ".join(opts)} threads {n}: outputs differ')
                    if reference_digest not in (None, ours_digest):
                        raise SystemExit(f'{size} GiB {" ".join(opts)}: output differs across threads')
                    reference_digest = ours_digest
                    if os.path.exists(out):
                        os.unlink(out)
                    if n == 0:
                        # makedumpfile reads a regular file faster with read(2) than
                        # through its mmap windows (as ours does by default), so its best
                        # time is taken over this run too.
                        wall, cpu, rss, _, code = timed(
                            [args.ref] + opts + ['--non-mmap', '--cyclic-buffer', str(kib), vmcore], out)
                        runs.setdefault('makedumpfile --non-mmap', []).append((wall, cpu, rss, code))
                        if digest(out) != ours_digest:
                            raise SystemExit(f'{size} GiB {" ".join(opts)} --non-mmap: outputs differ')
                        os.unlink(out)
                for tool, samples in runs.items():
                    wall = statistics.median(s[0] for s in samples)
                    row = {
                        'ram_gib': size, 'tool': tool, 'options': ' '.join(opts), 'threads': n,
                        'wall': wall, 'cpu': statistics.median(s[1] for s in samples),
                        'rss_kib': max(s[2] for s in samples), 'cycles': cycles,
                        'exit': max(s[3] for s in samples), 'runs': args.runs,
                        'pfns_per_cycle': pfns_per_cycle, 'cyclic_buffer': buffer,
                        'ram_pages': facts['ram_pages'], 'dumpable_pages': dumpable,
                        'struct_pages_per_s': facts['ram_pages'] / wall,
                        'dumpable_pages_per_s': dumpable / wall,
                    }
                    results.append(row)
                    print(f"{size:4} GiB {tool:13} {row['options']:9} t={n}: {wall:7.2f} s "
                          f"cpu {row['cpu']:7.2f} s rss {row['rss_kib']:7} KiB {cycles} cycles", flush=True)
        if not args.keep_vmcores:
            os.unlink(vmcore)
    os.rmdir(dumps)
    if not args.keep_vmcores:
        os.rmdir(work)
    meta = {'budget': BUDGET, 'runs': args.runs, 'cpus': os.cpu_count(), 'machine': platform.machine(),
            'sample': args.sample}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'scale.json'), 'w') as f:
        json.dump({'meta': meta, 'results': results}, f, indent=1)
    write_markdown(os.path.join(args.out, 'scale.md'), meta, results)
    plot(os.path.join(args.out, 'scale.png'), results)


def linearity(args, work, dumps, env):
    """Time per GiB of the largest size against the smallest, in alternating pairs.

    The table's runs of one size come minutes after those of another, and this shared
    machine's speed drifts by more than the 10 % the target allows between them (the same
    serial 256 GiB run took 5.6 s in one table and 7.5 s in the next, makedumpfile's
    likewise). Alternating the two sizes run by run puts both in the same state; the
    median of the pair ratios is the figure."""
    sizes = [int(s) for s in args.sizes.split(',')]
    small, big = min(sizes), max(sizes)
    cores = {}
    for size in (small, big):
        cores[size] = os.path.join(work, f'vmcore-{size}g')
        generate(size, cores[size], args.sample)
    out = os.path.join(dumps, 'dump')
    rows = []
    for opts in [c.split() for c in args.configs.split(';') if c.strip()]:
        for n in [int(t) for t in args.threads.split(',')]:
            extra = ['--num-threads', str(n)] if n else []
            walls = {small: [], big: []}
            for _ in range(args.linearity + 1):  # the first pair warms up and is dropped
                for size in (big, small):
                    wall, _, _, _, _ = timed([args.ours] + opts + extra + [cores[size]], out, env)
                    walls[size].append(wall)
                    os.unlink(out)
            ratios = [(b / big) / (s / small) for b, s in zip(walls[big][1:], walls[small][1:])]
            row = {'options': ' '.join(opts), 'threads': n, 'small_gib': small, 'big_gib': big,
                   'pairs': args.linearity, 'ratios': ratios, 'median': statistics.median(ratios),
                   'small_wall': statistics.median(walls[small][1:]),
                   'big_wall': statistics.median(walls[big][1:])}
            rows.append(row)
            print(f"{row['options']:9} t={n}: {big} GiB {row['big_wall']:.2f} s, {small} GiB "
                  f"{row['small_wall']:.2f} s, time per GiB {big}/{small}: median {row['median']:.2f} "
                  f"of {[round(r, 2) for r in ratios]}", flush=True)
    for size in (small, big):
        os.unlink(cores[size])
    os.rmdir(dumps)
    os.rmdir(work)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'linearity.json'), 'w') as f:
        json.dump({'linearity': rows}, f, indent=1)


def render(paths, out):
    runs, results, meta, paired = set(), [], None, []
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        if 'linearity' in data:
            paired += data['linearity']
            continue
        meta = meta or dict(data['meta'])
        runs.add(data['meta']['runs'])
        results += [dict(r, runs=r.get('runs', data['meta']['runs'])) for r in data['results']]
    results.sort(key=lambda r: (r['ram_gib'], r['options'], r['threads'], r['tool'] != 'ours'))
    meta['runs'] = '/'.join(str(r) for r in sorted(runs))
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, 'scale.json'), 'w') as f:
        json.dump({'meta': meta, 'results': results, 'linearity': paired}, f, indent=1)
    write_markdown(os.path.join(out, 'scale.md'), meta, results, paired)
    plot(os.path.join(out, 'scale.png'), results)


def find(results, **key):
    return next(r for r in results if all(r[k] == v for k, v in key.items()))


def write_markdown(path, meta, results, paired=()):
    lines = [
        '# Scale benchmark: generated machines under a 256 MiB capture kernel\n',
        f"Written by `benches/scale.py` (median of the runs column; {meta['cpus']} cores, "
        f"so more than 2 threads would be oversubscription). Ours plans its budget from "
        f"`MAKEDUMPFILE_RS_MEMFREE={meta['budget']}` (cycles of at most 16 GiB: it reads each cycle's "
        "2nd bitmap back from the dump instead of filtering the cycle again); makedumpfile 1.7.2 gets "
        'the `--cyclic-buffer` that budget gives, so both run the same cycles, and is also timed '
        'serially with `--non-mmap`, its faster way to read a regular file (ours maps only the '
        "dump's pages of a regular file, and only where they are dense, and reads the rest with "
        'pread). Every pair of outputs is byte-identical, '
        'and identical across thread counts; a makedumpfile run that failed is shown with its exit '
        'status (1.7.2 aborts some threaded runs: "libgcc_s.so.1 must be installed for pthread_exit '
        'to work"), and its time is that of the failed run.\n',
        '| RAM | options | threads | runs | cycles | ours s | makedumpfile s | makedumpfile --non-mmap s | '
        'ratio | ours s/GiB | ours CPU s | makedumpfile CPU s | ours RSS MiB | makedumpfile RSS MiB | '
        'struct pages/s (ours) | dumpable pages/s (ours) |',
        '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ]
    for r in results:
        if r['tool'] != 'ours':
            continue
        ref = find(results, ram_gib=r['ram_gib'], tool='makedumpfile', options=r['options'],
                   threads=r['threads'])
        non_mmap = [x for x in results if x['tool'] == 'makedumpfile --non-mmap' and x['ram_gib'] == r['ram_gib']
                    and x['options'] == r['options'] and x['threads'] == r['threads']]
        non_mmap_wall = f"{non_mmap[0]['wall']:.2f}" if non_mmap else '–'
        ref_wall = f"{ref['wall']:.2f}" if ref.get('exit', 0) == 0 else f"{ref['wall']:.2f} (exit {ref['exit']})"
        lines.append(
            f"| {r['ram_gib']} GiB | `{r['options']}` | {r['threads']} | {r.get('runs', '')} | {r['cycles']} | {r['wall']:.2f} | "
            f"{ref_wall} | {non_mmap_wall} | {r['wall'] / ref['wall']:.2f} | {r['wall'] / r['ram_gib']:.3f} | "
            f"{r['cpu']:.2f} | {ref['cpu']:.2f} | {r['rss_kib'] / 1024:.1f} | {ref['rss_kib'] / 1024:.1f} | "
            f"{r['struct_pages_per_s'] / 1e6:.1f} M | {r['dumpable_pages_per_s'] / 1e6:.2f} M |")
    sizes = sorted({r['ram_gib'] for r in results if r['tool'] == 'ours'})
    lines += ['', f'## Targets ({sizes[0]} GiB against {sizes[-1]} GiB)', ''] + targets(results, paired)
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def targets(results, paired=()):
    """Issue 16's targets as a markdown table (also in the README, benches/readme_tables.py),
    checked on these results: time per GiB and peak RSS of the
    largest size against the smallest (within 10 %), RSS under 64 MiB, and `-l -d 31
    --num-threads 2` against makedumpfile's best time (any thread count, mmap or not).
    Time per GiB is judged on the alternating pairs of `--linearity` where they were
    measured (`paired`), the table's separate runs shown beside them."""
    ours = [r for r in results if r['tool'] == 'ours']
    sizes = sorted({r['ram_gib'] for r in ours})
    small, big = sizes[0], sizes[-1]
    lines = ['| check | figure | target | met |', '|---|---|---|---|']

    def row(check, figure, target, met):
        lines.append(f'| {check} | {figure} | {target} | {"yes" if met else "**no**"} |')

    for r in sorted((r for r in ours if r['ram_gib'] == big), key=lambda r: (r['options'], r['threads'])):
        base = find(results, ram_gib=small, tool='ours', options=r['options'], threads=r['threads'])
        what = f"`{r['options']}` t={r['threads']}"
        per_gib = (r['wall'] / big) / (base['wall'] / small)
        pairs = [p for p in paired if (p['options'], p['threads'], p['small_gib'], p['big_gib'])
                 == (r['options'], r['threads'], small, big)]
        if pairs:
            row(f'{what}: time per GiB, {big} / {small} GiB',
                f"{pairs[0]['median']:.2f} (median of {pairs[0]['pairs']} alternating pairs; "
                f"the table's separate runs: {per_gib:.2f})", '≤ 1.10', pairs[0]['median'] <= 1.10)
        else:
            row(f'{what}: time per GiB, {big} / {small} GiB', f'{per_gib:.2f}', '≤ 1.10', per_gib <= 1.10)
        rss = r['rss_kib'] / base['rss_kib']
        row(f'{what}: peak RSS, {big} / {small} GiB',
            f"{rss:.2f} ({r['rss_kib'] / 1024:.1f} / {base['rss_kib'] / 1024:.1f} MiB)", '≤ 1.10', rss <= 1.10)
        row(f'{what}: peak RSS at {big} GiB', f"{r['rss_kib'] / 1024:.1f} MiB", '< 64 MiB',
            r['rss_kib'] < 64 * 1024)
    fast = [r for r in ours if r['ram_gib'] == big and r['options'] == '-l -d 31' and r['threads'] == 2]
    refs = [r for r in results if r['ram_gib'] == big and r['options'] == '-l -d 31'
            and r['tool'] != 'ours' and r.get('exit', 0) == 0]
    if fast and refs:
        best = min(refs, key=lambda r: r['wall'])
        ratio = fast[0]['wall'] / best['wall']
        row(f'`-l -d 31` t=2 against makedumpfile\'s best at {big} GiB ({best["tool"]}, t={best["threads"]})',
            f"{ratio:.2f} ({fast[0]['wall']:.2f} / {best['wall']:.2f} s)", '≤ 0.60', ratio <= 0.60)
    return lines


def plot(path, results):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (time_ax, rss_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    keys = sorted({(r['tool'], r['options'], r['threads']) for r in results})
    for tool, options, threads in keys:
        rows = sorted((r for r in results if (r['tool'], r['options'], r['threads']) == (tool, options, threads)),
                      key=lambda r: r['ram_gib'])
        sizes = [r['ram_gib'] for r in rows]
        style = '-' if tool == 'ours' else '--'
        label = f'{tool} {options} t={threads}'
        time_ax.plot(sizes, [r['wall'] / r['ram_gib'] for r in rows], style, marker='o', label=label)
        rss_ax.plot(sizes, [r['rss_kib'] / 1024 for r in rows], style, marker='o', label=label)
    for ax, title in ((time_ax, 'wall seconds per GiB of RAM'), (rss_ax, 'peak RSS (MiB)')):
        ax.set_xscale('log', base=2)
        ax.set_xlabel('RAM (GiB)')
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
    rss_ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == '__main__':
    sys.exit(main())
