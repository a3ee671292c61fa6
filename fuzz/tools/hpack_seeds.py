#!/usr/bin/env python3
"""Seeds for the hpack_decode target from the hpack-test-case stories (tests/fixtures/hpack-test-case).

One seed per story: its first blocks in order on one decoder, with the story's
SETTINGS_HEADER_TABLE_SIZE changes as limit operations (see fuzz_targets/hpack_decode.rs for
the input format). Usage: hpack_seeds.py HPACK_TEST_CASE_DIR OUT_DIR [BLOCKS_PER_STORY]
"""
import glob
import hashlib
import json
import os
import sys

SIZES = [4096, 0, 64, 256, 1365, 2730, 65536, 100]


def seed(cases, blocks, oracle):
    # Byte 0: decoder limit SIZES[0] = 4096; with the hpack-oracle feature 0xf8 turns the
    # differential against hpack_patched on.
    out = bytearray([0xf8 if oracle else 0])
    limit = 4096
    n = 0
    for c in cases:
        if 'wire' not in c:
            continue
        size = c.get('header_table_size', limit)
        if size != limit and size in SIZES:
            out.append(1 | (SIZES.index(size) << 2))  # decoder limit; encoder limit SIZES[0]
            limit = size
        wire = bytes.fromhex(c['wire'])
        if len(wire) < 256:
            out += bytes([0, len(wire)])
        else:
            out += bytes([4, len(wire) >> 8, len(wire) & 0xff])
        out += wire
        n += 1
        if n == blocks:
            break
    return bytes(out)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    blocks = int(sys.argv[3]) if len(sys.argv) > 3 else 6
    os.makedirs(dst, exist_ok=True)
    count = 0
    for i, f in enumerate(sorted(glob.glob(os.path.join(src, '*', 'story_*.json')))):
        # One story in 32 also seeds the differential against hpack_patched.
        s = seed(json.load(open(f))['cases'], blocks, i % 32 == 0)
        if len(s) > 1:
            name = 'hpack-test-case-' + hashlib.sha1(s).hexdigest()[:16]
            open(os.path.join(dst, name), 'wb').write(s)
            count += 1
    print(f'{count} seeds in {dst}')


main()
