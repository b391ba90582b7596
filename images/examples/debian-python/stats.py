"""Runs inside a dunerun image built FROM a Debian root filesystem: what
it reads is the image's own, Debian's files and nothing of the host's."""
import collections
import hashlib
import os
import platform
import re

with open("/etc/debian_version") as f:
    debian = f.read().strip()
print(f"Python {platform.python_version()} on Debian {debian}")

with open("/usr/share/common-licenses/GPL-3") as f:
    text = f.read()
words = collections.Counter(re.findall(r"[a-z]+", text.lower()))
print("GPL-3's top words:", ", ".join(f"{w} {n}" for w, n in words.most_common(5)))
print("its sha256:", hashlib.sha256(text.encode()).hexdigest()[:16])

packages = [d for d in os.listdir("/usr/share/doc")]
print(f"{len(packages)} packages documented in /usr/share/doc, e.g.",
      ", ".join(sorted(packages)[:4]))
