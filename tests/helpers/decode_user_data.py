#!/usr/bin/python3
"""Decodes a #cloud-config user-data the way cloud-init does, with
cloud-init's own code (Debian's system python3 has the `cloudinit` package):
util.load_yaml, then cc_write_files' canonicalize_extraction,
extract_contents and decode_perms for every write_files entry. Writes each
file under OUT (its absolute path re-rooted there) and prints one JSON object:
{"files": [{"path", "mode", "owner", "size"}], "keys": [top-level keys]}.

usage: decode_user_data.py USER_DATA OUT
"""
import json
import os
import sys

from cloudinit import util
from cloudinit.config import cc_write_files

user_data, out = sys.argv[1], sys.argv[2]
with open(user_data, "rb") as f:
    blob = f.read()
if not blob.startswith(b"#cloud-config\n"):
    sys.exit("user-data does not start with #cloud-config")
cfg = util.load_yaml(blob)
if not isinstance(cfg, dict):
    sys.exit("user-data is not a YAML mapping")
files = []
for entry in cfg.get("write_files", []):
    path = os.path.abspath(entry["path"])
    kinds = cc_write_files.canonicalize_extraction(entry.get("encoding"))
    contents = cc_write_files.extract_contents(entry.get("content", ""), kinds)
    if isinstance(contents, str):
        contents = contents.encode()
    mode = cc_write_files.decode_perms(entry.get("permissions"), 0o644)
    dest = os.path.join(out, path.lstrip("/"))
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with open(dest, "wb") as f:
        f.write(contents)
    os.chmod(dest, mode)
    files.append({"path": path, "mode": "%04o" % mode,
                  "owner": entry.get("owner", "root:root"), "size": len(contents)})
print(json.dumps({"files": files, "keys": sorted(cfg.keys())}))
