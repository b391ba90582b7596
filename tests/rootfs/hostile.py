#!/usr/bin/env python3
"""hostile.py DIR ESCAPE: hostile tar layers, for tests/rootfs.sh, into DIR.

ESCAPE is an absolute path outside everything a build may write: the
layers try to put files there.  Each NAME.tar is one attack.
"""
import io, os, sys, tarfile

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
