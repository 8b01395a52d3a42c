#!/usr/bin/env python3
"""Side-by-side benchmark: our makedumpfile vs Debian's makedumpfile 1.7.2 on a real vmcore.

    benches/compare.py [--vmcore PATH] [--runs N] [--threads 0,1,2,4,8]
                       [--configs "-c -d 1;-l -d 31"] [--out benches/results]
                       [--ref-zstd PATH]

Debian's makedumpfile has no zstd (its `-z` writes pages uncompressed), so `-z` rows are
compared with upstream 1.7.2 built with USEZSTD=on (benches/build-makedumpfile-zstd.sh,
found in the cache by default); without that build they compare with Debian's and say so.

For every configuration (codec x dump level x --num-threads) both binaries run N times,
alternating (ours, theirs, ours, theirs...) so drift on a shared machine hits both alike.
Each run's wall time and CPU time (user+sys) come from wait4()'s rusage of that child,
its peak RSS from GNU time. Writes compare.md (medians, ratios), compare.json (every run) and compare.png.
Outputs go to a temporary directory and are deleted after each run; the page cache holds the
vmcore (it is read once before timing so the first run is not penalised).

The machine has 2 cores: thread counts above 2 measure oversubscription, not scaling.
Run it with the drgn venv's python (scripts/install-deps.sh installs matplotlib there).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get('MAKEDUMPFILE_RS_CACHE') or os.path.join(
    os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'), 'makedumpfile-rs')


OURS = ['']


def run_once(argv, out_path):
    """Run argv + [out_path]; return (wall seconds, cpu seconds, peak RSS KiB)."""
    if os.path.exists(out_path):
        os.unlink(out_path)
    # Peak RSS comes from GNU time run as the child: wait4's ru_maxrss of a Python child
    # includes the pages of the forked interpreter before exec (~29 MB here).
    rss_file = out_path + '.rss'
    start = time.perf_counter()
    proc = subprocess.Popen(['/usr/bin/time', '-f', '%M', '-o', rss_file] + argv + [out_path],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors='replace')
    proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    # GNU time writes "Command exited with non-zero status N" before the figure.
    if code != 0 and not (argv[0] != OURS[0] and os.path.exists(out_path)):
        raise SystemExit(f'FAILED ({code}): {" ".join(argv)}\n{err[-2000:]}')
    size = os.path.getsize(out_path)
    os.unlink(out_path)
    with open(rss_file) as f:
        rss = int(f.read().split()[-1])
    os.unlink(rss_file)
    # Debian's makedumpfile 1.7.2 aborts (exit 134, "libgcc_s.so.1 must be installed for
    # pthread_exit to work") at the very end of some threaded runs, after writing its dump:
    # the run is kept, with its exit code, and flagged in the table.
    return wall, usage.ru_utime + usage.ru_stime, rss, size, code


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--vmcore', default=os.path.join(CACHE, 'vmcores', 'cloud-1g', 'vmcore'))
    ap.add_argument('--ours', default=os.path.join(ROOT, 'target', 'release', 'makedumpfile'))
    ap.add_argument('--ref', default='/usr/bin/makedumpfile')
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--threads', default='0,1,2,4,8')
    ap.add_argument('--configs', default='-c -d 1;-c -d 31;-l -d 1;-l -d 31;-z -d 1;-z -d 31')
    ap.add_argument('--out', default=os.path.join(ROOT, 'benches', 'results'))
    ap.add_argument('--ref-zstd', default=os.path.join(CACHE, 'makedumpfile-1.7.2-zstd', 'makedumpfile'),
                    help='makedumpfile with zstd, for the -z rows (benches/build-makedumpfile-zstd.sh)')
    ap.add_argument('--skip-ref-threads-above', type=int, default=8,
                    help='do not run makedumpfile with more threads than this (it busy-waits)')
    args = ap.parse_args()
    for path in (args.vmcore, args.ours, args.ref):
        if not os.path.exists(path):
            raise SystemExit(f'missing: {path} (scripts/make-vmcore.sh, cargo build --release, scripts/install-deps.sh)')
    OURS[0] = args.ours
    threads = [int(t) for t in args.threads.split(',')]
    configs = [c.split() for c in args.configs.split(';') if c.strip()]
    os.makedirs(args.out, exist_ok=True)
    # Warm the page cache: a real /proc/vmcore is memory, not disk.
    with open(args.vmcore, 'rb') as f:
        while f.read(1 << 24):
            pass
    tmp = tempfile.mkdtemp(prefix='mdf-compare-')
    results = []
    for opts in configs:
        for n in threads:
            extra = ['--num-threads', str(n)] if n else []
            tools = [('ours', args.ours)]
            if n <= args.skip_ref_threads_above:
                zstd_ref = opts[0] == '-z' and os.path.exists(args.ref_zstd)
                tools.append(('makedumpfile', args.ref_zstd if zstd_ref else args.ref))
            samples = {name: [] for name, _ in tools}
            for _ in range(args.runs):
                for name, binary in tools:
                    samples[name].append(run_once([binary] + opts + extra + [args.vmcore], os.path.join(tmp, 'dump')))
            for name, runs in samples.items():
                row = {
                    'tool': name, 'options': ' '.join(opts), 'threads': n, 'runs': runs,
                    'wall': statistics.median(r[0] for r in runs),
                    'cpu': statistics.median(r[1] for r in runs),
                    'rss_kib': max(r[2] for r in runs),
                    'size': runs[0][3],
                    'exit': max(r[4] for r in runs),
                }
                results.append(row)
                print(f"{name:13} {row['options']:10} threads={n}: wall {row['wall']:.2f}s cpu {row['cpu']:.2f}s "
                      f"rss {row['rss_kib']} KiB size {row['size']} exit {row['exit']}", flush=True)
    os.rmdir(tmp)
    meta = {'vmcore': args.vmcore, 'vmcore_bytes': os.path.getsize(args.vmcore), 'runs': args.runs,
            'cpus': os.cpu_count(), 'machine': platform.machine(), 'date': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
            'ref_version': subprocess.run([args.ref, '-v'], capture_output=True, text=True).stdout.splitlines()[0],
            'ref_zstd': args.ref_zstd if os.path.exists(args.ref_zstd) else None}
    with open(os.path.join(args.out, 'compare.json'), 'w') as f:
        json.dump({'meta': meta, 'results': results}, f, indent=1)
    write_markdown(args.out, meta, results)
    plot(args.out, results)


def find(results, tool, options, threads):
    for r in results:
        if r['tool'] == tool and r['options'] == options and r['threads'] == threads:
            return r
    return None


def write_markdown(out, meta, results):
    lines = [
        f"# makedumpfile-rs vs makedumpfile — {meta['date']}",
        '',
        f"vmcore: {meta['vmcore_bytes'] / 2**20:.0f} MiB real /proc/vmcore (Debian 6.1 guest); "
        f"{meta['cpus']} CPUs ({meta['machine']}); median of {meta['runs']} alternating runs; "
        f"reference: {meta['ref_version']}.",
        'Thread counts above the CPU count measure oversubscription. ' + (
            'Debian builds makedumpfile without zstd, so the `-z` rows compare with upstream 1.7.2 built with '
            '`USEZSTD=on` (benches/build-makedumpfile-zstd.sh); both write the same file.'
            if meta.get('ref_zstd') else
            'Debian builds makedumpfile without zstd, so its `-z` rows write uncompressed pages (a different, '
            'larger file): build benches/build-makedumpfile-zstd.sh for a real comparison.'),
        '',
        '| options | threads | ours wall s | makedumpfile wall s | ours / makedumpfile | ours vs our 1 thread | ours CPU s | mdf CPU s | ours peak RSS MiB | mdf peak RSS MiB |',
        '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ]
    for r in results:
        if r['tool'] != 'ours':
            continue
        ref = find(results, 'makedumpfile', r['options'], r['threads'])
        one = find(results, 'ours', r['options'], 1)
        speedup = f"{one['wall'] / r['wall']:.2f}x" if one and r['threads'] > 0 else ''
        lines.append('| {} | {} | {:.2f} | {} | {} | {} | {:.2f} | {} | {:.1f} | {} |'.format(
            r['options'], r['threads'], r['wall'],
            (f"{ref['wall']:.2f}" + (f" (exit {ref['exit']})" if ref['exit'] else '')) if ref else 'n/a',
            f"{r['wall'] / ref['wall']:.2f}" if ref else 'n/a',
            speedup, r['cpu'],
            f"{ref['cpu']:.2f}" if ref else 'n/a',
            r['rss_kib'] / 1024,
            f"{ref['rss_kib'] / 1024:.1f}" if ref else 'n/a'))
    lines.append('')
    lines.append('![wall time by thread count](compare.png)')
    with open(os.path.join(out, 'compare.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print('\n'.join(lines))


def plot(out, results):
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit('matplotlib is missing: run scripts/install-deps.sh (it installs it into the venv)')
    options = sorted({r['options'] for r in results}, key=lambda o: (o.split()[0], o))
    cols = 3
    rows = (len(options) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    for ax, opt in zip(axes.flat, options):
        for tool, style in (('ours', 'o-'), ('makedumpfile', 's--')):
            pts = sorted((r['threads'], r['wall']) for r in results if r['tool'] == tool and r['options'] == opt)
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=tool)
        ax.set_title(opt)
        ax.set_xlabel('--num-threads (0 = serial; 2 CPUs)')
        ax.set_ylabel('wall seconds')
        ax.set_yscale('log')
        ax.grid(True, alpha=0.3)
        ax.legend()
    for ax in list(axes.flat)[len(options):]:
        ax.axis('off')
    fig.tight_layout()
    fig.savefig(os.path.join(out, 'compare.png'), dpi=90)


if __name__ == '__main__':
    sys.exit(main())
