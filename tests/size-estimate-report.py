#!/usr/bin/env python3
"""The table of tests/size-estimate.sh: per profile, level and codec, the size that
`--mem-usage /proc/kcore` predicted in the first kernel, its 95 % interval, and the size of
the dump the capture kernel wrote right after.

    size-estimate-report.py [--tolerance PCT] [--record PREFIX] PROFILE=DIR...

DIR holds the guest files of one boot (estimate.out and .time from the first kernel,
dump.X.L.size and .time from the capture kernel, result.txt). Prints a Markdown table;
with --record also writes PREFIX.md and PREFIX.json (benches/results/size-estimate), from
which benches/readme_tables.py renders the README's table. Exits 1 when a file is missing
or unreadable; the pass/fail checks are the shell script's.
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys

CODECS = {'c': 'zlib', 'l': 'lzo', 'z': 'zstd', 'p': 'snappy'}
LEVELS = (1, 31)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(directory, name):
    with open(os.path.join(directory, name)) as f:
        return f.read()


def estimate_rows(text):
    """{(level, letter): row} from the estimate section of a --mem-usage output."""
    rows, inside = {}, False
    for line in text.splitlines():
        if line.startswith('ESTIMATED DUMP SIZE'):
            inside = True
        elif inside and line.startswith('-d '):
            f = line.split()
            rows[(int(f[1]), f[2].lstrip('-'))] = {
                'estimate': int(f[4]), 'low': int(f[5]), 'high': int(f[6]),
                'sampled': int(f[7]), 'dumpable': int(f[8])}
        elif inside and not line.strip():
            inside = False
    return rows


def wall_seconds(time_v):
    m = re.search(r'Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): *([0-9:.]+)', time_v)
    if not m:
        raise SystemExit('no wall clock time in a GNU time -v report')
    seconds = 0.0
    for part in m.group(1).split(':'):
        seconds = seconds * 60 + float(part)
    return seconds


def field(result, name):
    m = re.search(rf'^{re.escape(name)}: *(.*)$', result, re.M)
    return m.group(1).strip() if m else ''


def profile_results(profile, directory, tolerance):
    rows = estimate_rows(read(directory, 'estimate.out'))
    result = read(directory, 'result.txt')
    run = {
        'profile': profile,
        'kernel': field(result, 'profile'),
        'estimate_seconds': wall_seconds(read(directory, 'estimate.time')),
        'estimate_max_rss_kib': int(re.search(r'Maximum resident set size \(kbytes\): *(\d+)',
                                              read(directory, 'estimate.time')).group(1)),
    }
    cells = []
    for level in LEVELS:
        for letter in ('l', 'c', 'z', 'p'):
            row = rows.get((level, letter))
            if row is None:
                raise SystemExit(f'{directory}/estimate.out: no row for -d {level} -{letter}')
            real = int(read(directory, f'dump.{letter}.{level}.size'))
            error = 100.0 * (row['estimate'] / real - 1)
            cells.append(dict(row, profile=profile, level=level, option=f'-{letter}',
                              codec=CODECS[letter], real=real, error_pct=round(error, 2),
                              within=abs(error) <= tolerance,
                              covered=row['low'] <= real <= row['high'],
                              dump_seconds=float(read(directory, f'dump.{letter}.{level}.time'))))
    return run, cells


def mib(n):
    return f'{n / 1048576:.1f}'


def markdown(meta, runs, cells):
    lines = ['# Dump size estimate of `--mem-usage /proc/kcore` against the real dump', '',
             'Written by `tests/size-estimate.sh --record`. One boot per profile: the first '
             'kernel runs `makedumpfile --mem-usage /proc/kcore` (the prediction), then '
             'panics; the capture kernel writes each dump from `/proc/vmcore`, one after '
             'another, and its size is compared with the prediction. Sizes in MiB; '
             f"error = estimate / dump - 1; allowed ±{meta['tolerance_pct']:g} %. The 95 % "
             'interval covers sampling error only (the memory also changes between the '
             'prediction and the panic).', '',
             '| profile | level | codec | estimate | 95 % interval | dump | error | in interval |',
             '|---|---|---|---:|---:|---:|---:|---|']
    for c in cells:
        lines.append(f"| {c['profile']} | `-d {c['level']}` | `{c['option']}` {c['codec']} | "
                     f"{mib(c['estimate'])} | {mib(c['low'])}–{mib(c['high'])} | {mib(c['real'])} | "
                     f"{c['error_pct']:+.2f} % | {'yes' if c['covered'] else 'no'} |")
    lines += ['', '| profile | `--mem-usage` wall (TCG guest) | peak RSS | pages sampled (`-d 1`) |',
              '|---|---:|---:|---:|']
    for r in runs:
        sampled = next(c['sampled'] for c in cells if c['profile'] == r['profile'] and c['level'] == 1)
        lines.append(f"| {r['profile']} | {r['estimate_seconds']:.2f} s | "
                     f"{r['estimate_max_rss_kib'] / 1024:.1f} MiB | {sampled} |")
    lines += ['', f"{meta['date']}, commit {meta['commit']}; worst error "
              f"{meta['worst_error_pct']:+.2f} %, {meta['covered']} of {len(cells)} intervals "
              'cover the dump size.']
    return '\n'.join(lines) + '\n'


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--tolerance', type=float, default=15.0)
    parser.add_argument('--record', metavar='PREFIX')
    parser.add_argument('runs', nargs='+', metavar='PROFILE=DIR')
    args = parser.parse_args()
    runs, cells = [], []
    for spec in args.runs:
        profile, _, directory = spec.partition('=')
        try:
            run, found = profile_results(profile, directory, args.tolerance)
        except (OSError, ValueError, AttributeError) as e:
            raise SystemExit(f'{directory}: {e}')
        runs.append(run)
        cells += found
    commit = subprocess.run(['git', '-C', ROOT, 'rev-parse', '--short', 'HEAD'],
                            capture_output=True, text=True).stdout.strip() or 'unknown'
    worst = max(cells, key=lambda c: abs(c['error_pct']))
    meta = {
        'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
        'commit': commit,
        'tolerance_pct': args.tolerance,
        'worst_error_pct': worst['error_pct'],
        'covered': sum(c['covered'] for c in cells),
    }
    text = markdown(meta, runs, cells)
    print(text, end='')
    if args.record:
        with open(args.record + '.json', 'w') as f:
            json.dump({'meta': meta, 'runs': runs, 'cells': cells}, f, indent=1)
            f.write('\n')
        with open(args.record + '.md', 'w') as f:
            f.write(text)
        print(f'recorded {args.record}.md and .json', file=sys.stderr)


if __name__ == '__main__':
    main()
