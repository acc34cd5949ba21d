"""Reads a set of .proto files into the facts that decide the wire: packages, messages,
fields (name, number, type, label, oneof), enums and services. Used to prove that
proto/etcd is wire-identical to etcd's own files."""
import os
import subprocess
import tempfile

from google.protobuf import descriptor_pb2

FDP = descriptor_pb2.FieldDescriptorProto
TYPE_NAMES = {v: k for k, v in FDP.Type.items()}
LABEL_NAMES = {v: k for k, v in FDP.Label.items()}

PROTOC_INCLUDE = "/usr/include"  # Debian's protobuf well-known types


def descriptor_set(include_root, files):
    """Runs protoc on files (paths relative to include_root); returns a FileDescriptorSet."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "set.pb")
        subprocess.run(
            ["protoc", f"-I{include_root}", f"-I{PROTOC_INCLUDE}", "--include_imports",
             f"--descriptor_set_out={out}", *files],
            check=True, capture_output=True, text=True)
        fds = descriptor_pb2.FileDescriptorSet()
        with open(out, "rb") as f:
            fds.ParseFromString(f.read())
        return fds


def _field(f, oneofs):
    facts = {
        "number": f.number,
        "type": TYPE_NAMES[f.type],
        "label": LABEL_NAMES[f.label],
        "type_name": f.type_name,
        "json_name": f.json_name,
    }
    if f.HasField("oneof_index"):
        facts["oneof"] = oneofs[f.oneof_index]
    if f.proto3_optional:
        facts["proto3_optional"] = True
    if f.options.HasField("packed"):
        facts["packed"] = f.options.packed
    return facts


def _message(prefix, m, out):
    name = f"{prefix}.{m.name}"
    oneofs = [o.name for o in m.oneof_decl]
    out["messages"][name] = {f.name: _field(f, oneofs) for f in m.field}
    out["reserved"][name] = (sorted((r.start, r.end) for r in m.reserved_range),
                             sorted(m.reserved_name))
    for e in m.enum_type:
        _enum(name, e, out)
    for n in m.nested_type:
        _message(name, n, out)


def _enum(prefix, e, out):
    out["enums"][f"{prefix}.{e.name}"] = {v.name: v.number for v in e.value}


def contract(fds, packages):
    """The wire facts of every file in fds whose package is in packages."""
    out = {"messages": {}, "enums": {}, "services": {}, "reserved": {}}
    for fd in fds.file:
        if fd.package not in packages:
            continue
        prefix = "." + fd.package
        for m in fd.message_type:
            _message(prefix, m, out)
        for e in fd.enum_type:
            _enum(prefix, e, out)
        for s in fd.service:
            out["services"][f"{prefix}.{s.name}"] = {
                meth.name: {
                    "input": meth.input_type,
                    "output": meth.output_type,
                    "client_streaming": meth.client_streaming,
                    "server_streaming": meth.server_streaming,
                }
                for meth in s.method
            }
    return out


def differences(ours, theirs, skip=()):
    """Lines naming every way `ours` differs from `theirs` for the elements in `theirs`,
    and every element of `ours` absent from `theirs` unless it is named in skip."""
    diffs = []
    for kind in ("messages", "enums", "services"):
        for name, facts in theirs[kind].items():
            if name not in ours[kind]:
                diffs.append(f"{kind[:-1]} {name}: missing from ours")
                continue
            mine = ours[kind][name]
            for member, value in facts.items():
                if member not in mine:
                    diffs.append(f"{name}.{member}: missing from ours ({value})")
                elif mine[member] != value:
                    diffs.append(f"{name}.{member}: ours {mine[member]} != etcd {value}")
            for member in mine:
                if member not in facts and f"{name}.{member}" not in skip:
                    diffs.append(f"{name}.{member}: ours only")
        for name in ours[kind]:
            if name not in theirs[kind] and name not in skip:
                diffs.append(f"{kind[:-1]} {name}: ours only")
    for name, value in theirs["reserved"].items():
        if name in ours["reserved"] and ours["reserved"][name] != value:
            diffs.append(f"{name} reserved: ours {ours['reserved'][name]} != etcd {value}")
    return diffs
