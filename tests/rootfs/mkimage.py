#!/usr/bin/env python3
"""mkimage.py: container images made by hand, for tests/rootfs.sh.

  mkimage.py oci DIR LAYER...      an OCI image layout in DIR
  mkimage.py docker FILE LAYER...  a docker-save archive (manifest.json,
                                   the config, one LAYER/layer.tar each)

Each LAYER is a tar file, maybe compressed; it goes in as it is.  The
config's diff_ids are the sha256 of each layer uncompressed, as the specs
say (OCI image-spec config.md; docker's image spec v1.2).
"""
import gzip, hashlib, io, json, os, sys, tarfile

try:
    import zstandard
except ImportError:
    zstandard = None


def sha(b):
    return hashlib.sha256(b).hexdigest()


def uncompressed(b):
    if b[:2] == b'\x1f\x8b':
        return gzip.decompress(b)
    if b[:4] == b'\x28\xb5\x2f\xfd':
        import subprocess
        return subprocess.run(['zstd', '-dc'], input=b, capture_output=True, check=True).stdout
    return b


def media(b):
    if b[:2] == b'\x1f\x8b':
        return 'application/vnd.oci.image.layer.v1.tar+gzip'
    if b[:4] == b'\x28\xb5\x2f\xfd':
        return 'application/vnd.oci.image.layer.v1.tar+zstd'
    return 'application/vnd.oci.image.layer.v1.tar'


def config(layers):
    return json.dumps({
        'architecture': 'amd64', 'os': 'linux',
        'config': {'Env': ['PATH=/usr/bin:/bin']},
        'rootfs': {'type': 'layers',
                   'diff_ids': ['sha256:' + sha(uncompressed(l)) for l in layers]},
    }, sort_keys=True).encode()


def oci(out, layers):
    blobs = os.path.join(out, 'blobs', 'sha256')
    os.makedirs(blobs, exist_ok=True)

    def put(b):
        with open(os.path.join(blobs, sha(b)), 'wb') as f:
            f.write(b)
        return {'digest': 'sha256:' + sha(b), 'size': len(b)}

    cfg = put(config(layers))
    cfg['mediaType'] = 'application/vnd.oci.image.config.v1+json'
    descs = []
    for l in layers:
        d = put(l)
        d['mediaType'] = media(l)
        descs.append(d)
    man = json.dumps({'schemaVersion': 2,
                      'mediaType': 'application/vnd.oci.image.manifest.v1+json',
                      'config': cfg, 'layers': descs}).encode()
    md = put(man)
    md['mediaType'] = 'application/vnd.oci.image.manifest.v1+json'
    # Another platform first: the reader must pick linux/amd64.
    other = dict(md, platform={'architecture': 'arm64', 'os': 'linux'})
    md['platform'] = {'architecture': 'amd64', 'os': 'linux'}
    with open(os.path.join(out, 'index.json'), 'w') as f:
        json.dump({'schemaVersion': 2, 'manifests': [other, md]}, f)
    with open(os.path.join(out, 'oci-layout'), 'w') as f:
        json.dump({'imageLayoutVersion': '1.0.0'}, f)


def docker(out, layers):
    cfg = config(layers)
    paths = []
    with tarfile.open(out, 'w', format=tarfile.USTAR_FORMAT) as t:
        def add(name, b):
            i = tarfile.TarInfo(name)
            i.size = len(b)
            i.mode = 0o644
            t.addfile(i, io.BytesIO(b))
        add(sha(cfg) + '.json', cfg)
        for l in layers:
            p = sha(uncompressed(l)) + '/layer.tar'
            add(p, l)
            paths.append(p)
        add('manifest.json', json.dumps([{'Config': sha(cfg) + '.json',
                                          'RepoTags': ['test:latest'],
                                          'Layers': paths}]).encode())


def main():
    kind, out, layers = sys.argv[1], sys.argv[2], sys.argv[3:]
    data = []
    for p in layers:
        with open(p, 'rb') as f:
            data.append(f.read())
    {'oci': oci, 'docker': docker}[kind](out, data)


main()
