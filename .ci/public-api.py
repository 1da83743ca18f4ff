#!/usr/bin/env python3
"""Lists the public API of sd-notify-core, one item per line, from rustdoc's JSON output.

    cargo +nightly rustdoc -p sd-notify-core --lib -- -Z unstable-options --output-format json
    .ci/public-api.py target/doc/sd_notify_core.json > sd-notify-core/public-api.txt

`.ci/run` compares the listing with the committed `sd-notify-core/public-api.txt`: a change of
the public surface (an item added, removed or changed in signature) fails CI until the file
is updated in the same commit, so every change to the surface is seen and reviewed, and the
CHANGELOG can say whether it breaks users. `#[doc(hidden)]` items (the macro's private
module) are not part of the surface and are left out.
"""

import json
import sys

# Named without their path, as everybody writes them.
PRELUDE = {"Result", "Option", "String", "Vec", "Box"}


def main(path):
    doc = json.load(open(path))
    index = doc["index"]
    lines = set()

    def item(i):
        return index.get(str(i))

    def hidden(it):
        return any("hidden" in str(a) for a in it.get("attrs", []))

    def name_of(resolved):
        # Items of other crates by their full path (so `io::Error` and our `Error` differ);
        # ours by their name.
        summary = doc["paths"].get(str(resolved.get("id")))
        if summary and summary.get("crate_id", 0) != 0:
            if summary["path"][-1] in PRELUDE:
                return summary["path"][-1]
            return "::".join(summary["path"])
        return resolved["path"].split("::")[-1]

    def generic_args(args):
        if not args:
            return ""
        if "angle_bracketed" in args:
            parts = []
            for a in args["angle_bracketed"]["args"]:
                if "type" in a:
                    parts.append(ty(a["type"]))
                elif "lifetime" in a:
                    parts.append(a["lifetime"])
                elif "const" in a:
                    parts.append(str(a["const"].get("expr", "_")))
            for c in args["angle_bracketed"].get("constraints", []):
                binding = c.get("binding", {})
                if "equality" in binding and "type" in binding["equality"]:
                    parts.append(f'{c["name"]} = {ty(binding["equality"]["type"])}')
            return f"<{', '.join(parts)}>" if parts else ""
        if "parenthesized" in args:
            p = args["parenthesized"]
            out = ty(p["output"]) if p.get("output") else "()"
            return f"({', '.join(ty(t) for t in p['inputs'])}) -> {out}"
        return ""

    def bounds(bs):
        out = []
        for b in bs:
            if "trait_bound" in b:
                t = b["trait_bound"]["trait"]
                out.append(t["path"] + generic_args(t.get("args")))
            elif "outlives" in b:
                out.append(b["outlives"])
        return " + ".join(out)

    def ty(t):
        if t is None:
            return "()"
        (k, v), = t.items()
        if k == "resolved_path":
            return name_of(v) + generic_args(v.get("args"))
        if k == "primitive":
            return v
        if k == "generic":
            return v
        if k == "borrowed_ref":
            life = (v["lifetime"] + " ") if v.get("lifetime") else ""
            return f"&{life}{'mut ' if v['is_mutable'] else ''}{ty(v['type'])}"
        if k == "slice":
            return f"[{ty(v)}]"
        if k == "array":
            return f"[{ty(v['type'])}; {v['len']}]"
        if k == "tuple":
            return f"({', '.join(ty(x) for x in v)})"
        if k == "impl_trait":
            return "impl " + bounds(v)
        if k == "dyn_trait":
            return "dyn " + " + ".join(t["trait"]["path"] for t in v["traits"])
        if k == "raw_pointer":
            return f"*{'mut' if v['is_mutable'] else 'const'} {ty(v['type'])}"
        if k == "qualified_path":
            return f"<{ty(v['self_type'])}>::{v['name']}"
        return k

    def fn_sig(name, f):
        decl = f["sig"]
        params = []
        for pname, ptype in decl["inputs"]:
            if pname == "self":
                ref = ptype.get("borrowed_ref")
                params.append(("&mut self" if ref["is_mutable"] else "&self") if ref else "self")
            else:
                params.append(f"{pname}: {ty(ptype)}")
        ret = f" -> {ty(decl['output'])}" if decl.get("output") else ""
        header = f.get("header", {})
        prefix = ("const " if header.get("is_const") else "") + ("unsafe " if header.get("is_unsafe") else "")
        gens = [
            g["name"]
            for g in f.get("generics", {}).get("params", [])
            if "type" in g.get("kind", {}) and not g["kind"]["type"].get("is_synthetic")
        ]
        gen = f"<{', '.join(gens)}>" if gens else ""
        return f"{prefix}fn {name}{gen}({', '.join(params)}){ret}"

    def add(path, text):
        lines.add(f"{path}: {text}" if text else path)

    def impls(path, ids):
        for i in ids:
            imp = item(i)
            if imp is None or hidden(imp):
                continue
            im = imp["inner"]["impl"]
            if im.get("is_synthetic") or im.get("blanket_impl") is not None:
                continue
            if im.get("trait"):
                trait = im["trait"]["path"] + generic_args(im["trait"].get("args"))
                if not trait.endswith("StructuralPartialEq"):  # the compiler's, from derive(PartialEq)
                    add(path, f"impl {trait} for {ty(im['for'])}")
                continue
            for m in im["items"]:
                mi = item(m)
                if mi is None or mi.get("visibility") != "public" or hidden(mi):
                    continue
                (k, v), = mi["inner"].items()
                if k == "function":
                    add(f"{path}::{mi['name']}", fn_sig(mi["name"], v))
                elif k == "assoc_const":
                    add(f"{path}::{mi['name']}", "const " + ty(v["type"]))

    def walk(prefix, i, name=None):
        it = item(i)
        if it is None or hidden(it):
            return
        (k, v), = it["inner"].items()
        name = name or it.get("name")
        path = f"{prefix}::{name}" if name else prefix
        non_exhaustive = " #[non_exhaustive]" if any("non_exhaustive" in str(a) for a in it.get("attrs", [])) else ""
        if k == "module":
            if not v.get("is_crate"):
                add(path, "mod")
            for c in v["items"]:
                walk(path if not v.get("is_crate") else prefix, c)
        elif k == "use":
            if v.get("id") is not None and item(v["id"]) is not None:
                walk(prefix, v["id"], v["name"])
            else:
                add(f"{prefix}::{v['name']}", f"re-export of {v['source']}")
        elif k == "struct":
            kind = v["kind"]
            if "plain" in kind:
                fields = [item(f) for f in kind["plain"]["fields"]]
                pub = [f"{f['name']}: {ty(f['inner']['struct_field'])}" for f in fields if f and f.get("visibility") == "public"]
                private = kind["plain"].get("has_stripped_fields")
                shown = pub + ([".."] if private else [])
                add(path, f"struct{non_exhaustive} {{ {', '.join(shown)} }}")
            else:
                add(path, f"struct{non_exhaustive}")
            impls(path, v["impls"])
        elif k == "enum":
            add(path, f"enum{non_exhaustive}")
            for var in v["variants"]:
                vi = item(var)
                vk = vi["inner"]["variant"]["kind"]
                if vk == "plain":
                    add(f"{path}::{vi['name']}", "variant")
                elif "tuple" in vk:
                    add(f"{path}::{vi['name']}", "variant(" + ", ".join(ty(item(f)["inner"]["struct_field"]) for f in vk["tuple"] if f is not None) + ")")
                else:
                    fs = [item(f) for f in vk["struct"]["fields"]]
                    add(f"{path}::{vi['name']}", "variant { " + ", ".join(f"{f['name']}: {ty(f['inner']['struct_field'])}" for f in fs) + " }")
            impls(path, v["impls"])
        elif k == "function":
            add(path, fn_sig(name, v))
        elif k == "constant":
            add(path, "const " + ty(v["type"]))
        elif k == "static":
            add(path, "static " + ty(v["type"]))
        elif k == "trait":
            add(path, "trait")
        elif k in ("macro", "proc_macro"):
            add(path, "macro")
        elif k == "type_alias":
            add(path, "type = " + ty(v["type"]))
        else:
            add(path, k)

    walk(index[str(doc["root"])]["name"], doc["root"])
    for line in sorted(lines):
        print(line)


if __name__ == "__main__":
    main(sys.argv[1])
