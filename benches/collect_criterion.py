#!/usr/bin/env python3
"""Keep criterion's figures: copy the median estimate of every benchmark under the given
criterion groups from target/criterion into benches/results/criterion.json (merged with
what is there), with the date, the machine and the commit they were measured on.

    cargo bench -p makedumpfile-benches --bench codecs -- 'codec_page/(zlib|zlib-system)/'
    benches/collect_criterion.py codec_page slab_claim_release

The README's criterion tables are rendered from that file by benches/readme_tables.py,
so every figure there comes from a measured run, never typed.
"""
import datetime
import glob
import json
import os
import platform
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'benches', 'results', 'criterion.json')


def main(groups):
    if not groups:
        raise SystemExit(__doc__)
    data = {}
    if os.path.exists(OUT):
        with open(OUT) as f:
            data = json.load(f)
    commit = subprocess.run(['git', '-C', ROOT, 'rev-parse', '--short', 'HEAD'],
                            capture_output=True, text=True).stdout.strip()
    for group in groups:
        base = os.path.join(ROOT, 'target', 'criterion', group)
        found = sorted(glob.glob(os.path.join(base, '*', '*', 'new', 'estimates.json')))
        if not found:
            raise SystemExit(f'no criterion results under {base}: run the bench first')
        entries = data.setdefault(group, {})
        for path in found:
            bench = os.path.relpath(os.path.dirname(os.path.dirname(path)), base)
            with open(path) as f:
                estimates = json.load(f)
            median = estimates['median']
            entries[bench] = {
                'median_ns': median['point_estimate'],
                'low_ns': median['confidence_interval']['lower_bound'],
                'high_ns': median['confidence_interval']['upper_bound'],
                'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
                'commit': commit,
                'cpus': os.cpu_count(),
                'machine': platform.machine(),
            }
        print(f'{group}: {len(found)} benchmarks')
    with open(OUT, 'w') as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write('\n')


if __name__ == '__main__':
    main(sys.argv[1:])
