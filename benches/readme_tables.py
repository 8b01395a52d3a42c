#!/usr/bin/env python3
"""Render the README's benchmark tables from the measured results, so no figure there is
typed by hand:

- `compare`: benches/results/compare.json, written by benches/compare.py (ours against
  makedumpfile 1.7.2, whole runs on the real vmcore);
- `codec`: benches/results/criterion.json group codec_page (benches/collect_criterion.py
  after `cargo bench --bench codecs`): our zlib-exact encoder against the system zlib;
- `slab`: the same file, group slab_claim_release: our atomic-bitmap slab against a
  crossbeam-queue free-index queue;
- `verify`: benches/results/verify.json, written by benches/verify.py (--verify against
  writing the dump on the real vmcore);
- `scale`: benches/results/scale.json, written by benches/scale.py (generated machines of
  16 to 256 GiB): issue 16's targets checked on it, by scale.py's own `targets`;
- `size-estimate`: benches/results/size-estimate.json, written by
  `tests/size-estimate.sh --record`: the dump size `--mem-usage /proc/kcore` predicts in a
  live guest against the dump its capture kernel writes right after.

    benches/readme_tables.py           rewrite the blocks between the README's markers
    benches/readme_tables.py --check   exit 1 if the README differs from the results

A block is the text between `<!-- table: NAME -->` and `<!-- end table: NAME -->`.
"""
import json
import os
import re
import statistics
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, 'README.md')
RESULTS = os.path.join(ROOT, 'benches', 'results')
CODEC_PAGES = 256          # pages per iteration of the codec_page group (codecs.rs)
SLAB_ROUNDS = 100_000      # claim+release pairs per thread per iteration (slab.rs)


def load(name):
    with open(os.path.join(RESULTS, name)) as f:
        return json.load(f)


def compare_table():
    data = load('compare.json')
    meta, results = data['meta'], data['results']
    by_key = {(r['tool'], r['options'], r['threads']): r for r in results}
    options = list(dict.fromkeys(r['options'] for r in results))
    threads = sorted({r['threads'] for r in results})
    shown = [t for t in threads if t in (0, 1, 2, 8)]
    head = {0: 'serial', 1: '1 thread'}
    lines = ['| | ' + ' | '.join(head.get(t, f'{t} threads') for t in shown) + ' |',
             '|---|' + '---:|' * len(shown)]

    def row(label, tool, opts, field, fmt):
        cells = []
        for t in shown:
            r = by_key.get((tool, opts, t))
            cells.append(fmt(r[field]) if r else '')
        lines.append(f'| {label} | ' + ' | '.join(cells) + ' |')

    for opts in options:
        zstd = opts.startswith('-z') and meta.get('ref_zstd')
        row(f'`{opts}` ours', 'ours', opts, 'wall', lambda v: f'{v:.2f} s')
        ref = 'makedumpfile (zstd build)' if zstd else 'makedumpfile'
        row(f'`{opts}` {ref}', 'makedumpfile', opts, 'wall', lambda v: f'{v:.2f} s')
    first = options[0]
    cells = []
    for t in shown:
        ours, ref = by_key.get(('ours', first, t)), by_key.get(('makedumpfile', first, t))
        cells.append(f"{ours['rss_kib'] / 1024:.1f} / {ref['rss_kib'] / 1024:.1f}"
                     if ours and ref else '')
    lines.append(f'| peak RSS `{first}`, ours / makedumpfile MiB | ' + ' | '.join(cells) + ' |')
    ratios = [by_key[('ours', o, t)]['wall'] / by_key[('makedumpfile', o, t)]['wall']
              for o in options for t in threads
              if ('ours', o, t) in by_key and ('makedumpfile', o, t) in by_key]
    lines.append('')
    lines.append(f"{meta['date']}, {meta['cpus']} CPUs, median of {meta['runs']} alternating runs; "
                 f"ours / makedumpfile over all {len(ratios)} rows: best {min(ratios):.2f}, "
                 f"median {statistics.median(ratios):.2f}, worst {max(ratios):.2f}.")
    return lines


def criterion(group):
    data = load('criterion.json')
    if group not in data:
        raise SystemExit(f'benches/results/criterion.json has no {group}: run benches/collect_criterion.py')
    return data[group]


def codec_table():
    group = criterion('codec_page')
    mixes = ['text', 'mixed', 'random', 'zero']
    lines = ['| page mix | ours | system zlib |', '|---|---:|---:|']
    for mix in mixes:
        ours, system = group.get(f'zlib/{mix}'), group.get(f'zlib-system/{mix}')
        if not ours or not system:
            raise SystemExit(f'codec_page lacks zlib/{mix} or zlib-system/{mix}')
        lines.append(f"| {mix} | {ours['median_ns'] / CODEC_PAGES / 1000:.1f} µs "
                     f"| {system['median_ns'] / CODEC_PAGES / 1000:.1f} µs |")
    sample = group[f'zlib/{mixes[0]}']
    lines.append('')
    lines.append(f"Per 4 KiB page, criterion median ({sample['date']}, commit {sample['commit']}).")
    return lines


def slab_table():
    group = criterion('slab_claim_release')
    lines = ['| threads | atomic bitmap (ours) | crossbeam-queue ArrayQueue |', '|---:|---:|---:|']
    sample = None
    for threads in (1, 2, 4):
        ours, queue = group.get(f'threads/{threads}'), group.get(f'queue-threads/{threads}')
        if not ours or not queue:
            raise SystemExit(f'slab_claim_release lacks threads/{threads} or queue-threads/{threads}')
        sample = ours
        rate = lambda r: SLAB_ROUNDS * threads / r['median_ns'] * 1e3
        lines.append(f'| {threads} | {rate(ours):.0f} M/s | {rate(queue):.0f} M/s |')
    lines.append('')
    lines.append(f"claim + release pairs per second, all threads together, criterion median "
                 f"({sample['date']}, commit {sample['commit']}, {sample['cpus']} CPUs).")
    return lines


def verify_table():
    data = load('verify.json')
    lines = ['| options | threads | write CPU s | verify CPU s | CPU ratio | write s | verify s | wall ratio |',
             '|---|---|---|---|---|---|---|---|']
    for r in data['rows']:
        med = statistics.median
        lines.append(f"| `{r['options']}` | {r['threads']} | {med(r['write_cpu_s']):.3f} "
                     f"| {med(r['verify_cpu_s']):.3f} | {r['cpu_ratio']:.2f} | {med(r['write_s']):.3f} "
                     f"| {med(r['verify_s']):.3f} | {r['ratio']:.2f} |")
    runs = sorted({r['runs'] for r in data['rows']})
    lines.append('')
    core = os.path.basename(os.path.dirname(data['vmcore']))
    lines.append(f"Medians of {'/'.join(map(str, runs))} pairs on the real {core} vmcore "
                 f"({data['machine']}).")
    return lines


def size_estimate_table():
    data = load('size-estimate.json')
    meta, runs, cells = data['meta'], data['runs'], data['cells']
    profiles = [r['profile'] for r in runs]
    by_key = {(c['profile'], c['level'], c['option']): c for c in cells}
    keys = list(dict.fromkeys((c['level'], c['option']) for c in cells))
    mib = lambda n: f'{n / 1048576:.1f}'
    lines = ['| dump | ' + ' | '.join(f'{p}: estimate (95 % interval) | dump | error' for p in profiles) + ' |',
             '|---|' + '---:|---:|---:|' * len(profiles)]
    for level, option in keys:
        row = f'| `{option} -d {level}` |'
        for p in profiles:
            c = by_key.get((p, level, option))
            row += (f" {mib(c['estimate'])} MiB ({mib(c['low'])}–{mib(c['high'])}) | {mib(c['real'])} MiB "
                    f"| {c['error_pct']:+.1f} % |") if c else ' | | |'
        lines.append(row)
    times = ', '.join(f"{r['profile']} {r['estimate_seconds']:.1f} s" for r in runs)
    lines.append('')
    lines.append(f"{meta['date']}, commit {meta['commit']}; worst error {meta['worst_error_pct']:+.1f} % "
                 f"(allowed ±{meta['tolerance_pct']:g} %); `--mem-usage` wall time in the TCG guest, "
                 f"estimate included: {times}.")
    return lines


def scale_table():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from scale import targets
    data = load('scale.json')
    sizes = sorted({r['ram_gib'] for r in data['results'] if r['tool'] == 'ours'})
    lines = targets(data['results'], data.get('linearity', []))
    lines.append('')
    lines.append(f"Sizes {', '.join(f'{s} GiB' for s in sizes)}, {data['meta']['runs']} runs, "
                 f"{data['meta']['cpus']} cores; the whole table is in benches/results/scale.md.")
    return lines


TABLES = {'compare': compare_table, 'codec': codec_table, 'slab': slab_table,
          'verify': verify_table, 'scale': scale_table,
          'size-estimate': size_estimate_table}


def render(text):
    for name, make in TABLES.items():
        pattern = re.compile(rf'(<!-- table: {name} -->\n).*?(<!-- end table: {name} -->)', re.S)
        if not pattern.search(text):
            raise SystemExit(f'README.md has no <!-- table: {name} --> block')
        body = '\n'.join(make()) + '\n'
        text = pattern.sub(lambda m: m.group(1) + body + m.group(2), text)
    return text


def main(args):
    with open(README) as f:
        old = f.read()
    new = render(old)
    if '--check' in args:
        if new != old:
            print('README.md tables differ from benches/results: run benches/readme_tables.py')
            sys.exit(1)
        print('README.md tables match benches/results')
        return
    with open(README, 'w') as f:
        f.write(new)


if __name__ == '__main__':
    main(sys.argv[1:])
