#!/usr/bin/env python3
"""hostile.py DIR ESCAPE [many]: hostile tar layers, for tests/rootfs.sh,
into DIR.

ESCAPE is an absolute path outside everything a build may write: the
layers try to put files there.  Each NAME.tar is one attack.  With "many",
only many.tar.zst: one file more than an image may hold (a directory and
1,048,576 files).
"""
import io, os, subprocess, sys, tarfile

out, escape = sys.argv[1], sys.argv[2]


def tar(name, members, fmt=tarfile.GNU_FORMAT):
    with tarfile.open(os.path.join(out, name + '.tar'), 'w', format=fmt) as t:
        for m in members:
            kind, path = m[0], m[1]
            i = tarfile.TarInfo(path)
            data = b''
            if kind == 'file':
                data = m[2] if len(m) > 2 else b'x\n'
                i.size = len(data)
                i.mode = 0o644
            elif kind == 'dir':
                i.type = tarfile.DIRTYPE
                i.mode = 0o755
            elif kind == 'symlink':
                i.type = tarfile.SYMTYPE
                i.linkname = m[2]
            elif kind == 'hardlink':
                i.type = tarfile.LNKTYPE
                i.linkname = m[2]
            t.addfile(i, io.BytesIO(data))


def header(name, typeflag, size=0):
    """A ustar header, written here: tarfile takes minutes for a million."""
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108] = b'0000644\0'
    h[108:116] = h[116:124] = b'0000000\0'
    h[124:136] = b'%011o\0' % size
    h[136:148] = b'00000000000\0'
    h[156] = ord(typeflag)
    h[257:265] = b'ustar\x0000'
    h[148:156] = b'        '
    h[148:156] = b'%06o\0 ' % sum(h)
    return bytes(h)


def many(path, n):
    z = subprocess.Popen(['zstd', '-q', '-1', '-f', '-o', path], stdin=subprocess.PIPE)
    z.stdin.write(header(b'd/', '5'))
    chunk = []
    for i in range(n):
        chunk.append(header(b'd/%07d' % i, '0'))
        if len(chunk) == 4096:
            z.stdin.write(b''.join(chunk))
            chunk = []
    z.stdin.write(b''.join(chunk) + bytes(1024))
    z.stdin.close()
    z.wait()


def attacks():
    rel = os.path.relpath(escape, '/')
    tar('dotdot', [('dir', 'etc'), ('file', '../../../../../../' + rel)])
    tar('dotdot-mid', [('dir', 'etc'), ('file', 'etc/../../' + rel)])
    tar('symlink-out', [('symlink', 'out', escape), ('file', 'out/pwned')])
    tar('symlink-rel', [('dir', 'a'), ('symlink', 'a/up', '../../../../../..'),
                        ('file', 'a/up/' + rel + '/pwned')])
    tar('whiteout-root', [('dir', 'etc'), ('file', '.wh..wh..opq', b'')])
    tar('whiteout-dotdot', [('dir', 'etc'), ('file', 'etc/.wh..', b'')])
    tar('hardlink-out', [('hardlink', 'x', '../../' + rel)])
    tar('hardlink-missing', [('hardlink', 'x', 'nothing')])
    tar('whiteout-link', [('dir', 'etc'), ('symlink', 'l', 'etc'), ('file', 'l/.wh.x', b'')])
    tar('symlink-climb', [('dir', 'd'), ('symlink', 'd/l', 'a/../../../x')])
    # pax names: a long one over the image's path limit.
    tar('long-name', [('file', 'd/' + 'x' * 5000)], fmt=tarfile.PAX_FORMAT)


if sys.argv[3:] == ['many']:
    many(os.path.join(out, 'many.tar.zst'), 1 << 20)
else:
    attacks()
