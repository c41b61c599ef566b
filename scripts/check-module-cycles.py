#!/usr/bin/env python3
"""Fails when the source files of a Rust crate import each other in a loop.

For each crate directory given, it walks the module tree from every library and binary root (the
`[lib]`/`[[bin]]` paths of Cargo.toml, else src/lib.rs, src/main.rs, src/bin/*), reads every
`use crate::…`, `use super::…`, `use self::…` (and `use child::…`) tree and every `crate::a::b`
path in code, resolves each to the file that defines what it names (following `use` and
`pub use` re-exports, so `crate::Thing` re-exported by lib.rs counts as the file defining
`Thing`), and prints each strongly connected component of more than one file, with the
references that make it. `mod x;` declarations are not references; comments and string literals
are ignored.

  python3 scripts/check-module-cycles.py crates/common tools/provider-simulator   # exit 1 on a loop
  python3 scripts/check-module-cycles.py --self-test   # fake crates, with and without a loop
"""
import os
import re
import sys
import tempfile

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11: fall back to the conventional layout.
    tomllib = None

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
PATH_KEYWORDS = ("crate", "super", "self")
RAW_STRING_START = re.compile(r'(?:b|c)?r(#*)"')


# ---- reading source --------------------------------------------------------------------------

def strip_comments_and_strings(text):
    """The text with comments and string/char literals blanked (newlines kept), so that what
    remains is code whose positions match the original."""
    out = []
    i, n = 0, len(text)

    def blank(segment):
        return "".join("\n" if c == "\n" else " " for c in segment)

    def follows_identifier(index):
        # `br"…"` starts a raw string; `bar"` cannot, nor can the `r` ending `for"…"`.
        return index > 0 and (text[index - 1].isalnum() or text[index - 1] == "_")

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(blank(text[i:j]))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(blank(text[i:j]))
            i = j
        elif c in "bcr" and RAW_STRING_START.match(text, i) and not follows_identifier(i):
            m = RAW_STRING_START.match(text, i)
            closing = '"' + m.group(1)
            j = text.find(closing, m.end())
            j = n if j < 0 else j + len(closing)
            out.append(blank(text[i:j]))
            i = j
        elif c == '"' or (c in "bc" and text.startswith('"', i + 1) and not follows_identifier(i)):
            j = i + (2 if c != '"' else 1)
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j = min(n, j + 1)
            out.append(blank(text[i:j]))
            i = j
        elif c == "'":
            # A char literal ('x', '\n', '\u{1F600}') or a lifetime / label ('a).
            m = re.match(r"'(?:\\(?:u\{[0-9A-Fa-f]*\}|x[0-9A-Fa-f]{2}|.)|[^\\'\n])'", text[i:])
            if m:
                out.append(blank(m.group(0)))
                i += m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def matching_brace(code, open_at):
    depth = 0
    for j in range(open_at, len(code)):
        if code[j] == "{":
            depth += 1
        elif code[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(code)


def parse_use_tree(tree):
    """`a::{self, b::{C, D as E}, f::*}` → [(["a"], "a"), (["a","b","C"], "C"),
    (["a","b","D"], "E"), (["a","f","*"], "*")]: each leaf's path and the name it binds (`*` for
    a glob, None for `_`)."""
    tree = tree.strip()
    results = []

    def split_top(text):
        parts, depth, start = [], 0, 0
        for k, ch in enumerate(text):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                parts.append(text[start:k])
                start = k + 1
        parts.append(text[start:])
        return [p.strip() for p in parts if p.strip()]

    def walk(prefix, text):
        text = text.strip()
        brace = text.find("{")
        if brace >= 0:
            head = text[:brace].strip()
            head = re.sub(r"\s+", "", head).rstrip(":")
            head_segments = [s for s in head.split("::") if s]
            close = matching_brace(text, brace)
            for part in split_top(text[brace + 1:close]):
                walk(prefix + head_segments, part)
            return
        m = re.match(r"^(.*?)\s+as\s+(" + IDENT + r")$", text, re.S)
        path_text, alias = (m.group(1), m.group(2)) if m else (text, None)
        segments = prefix + [s for s in re.sub(r"\s+", "", path_text).split("::") if s]
        if not segments:
            return
        if segments[-1] == "self":
            segments = segments[:-1]
            bound = alias or (segments[-1] if segments else None)
        elif segments[-1] == "*":
            bound = "*"
        else:
            bound = alias or segments[-1]
        if bound == "_":
            bound = None
        results.append((segments, bound))

    walk([], tree)
    return results


# ---- the module tree -------------------------------------------------------------------------

class Module:
    def __init__(self, path, file, parent, child_dir):
        self.path = path            # tuple of names below the crate root
        self.file = file            # the file that holds it (inline modules: their file)
        self.parent = parent
        self.child_dir = child_dir  # where `mod x;` inside it looks for x.rs / x/mod.rs
        self.children = {}          # name → Module
        self.bindings = {}          # name → (Module, segments): from `use` items
        self.globs = []             # (Module, segments)
        self.defines = set()        # item names declared in it
        self.references = []        # (Module scope, segments, how it was written)


ITEM_RE = re.compile(
    r"\b(?:fn|struct|enum|union|trait|type|const|static|macro_rules!)\s+(" + IDENT + r")")
MOD_RE = re.compile(r"(?<![A-Za-z0-9_])mod\s+(" + IDENT + r")\s*([;{])")
USE_RE = re.compile(r"(?<![A-Za-z0-9_])(?:pub(?:\([^)]*\))?\s+)?use\s+([^;]*);")
BARE_PATH_RE = re.compile(r"(?<![A-Za-z0-9_$:])(" + IDENT + r")\s*::\s*(" + IDENT + r")")
CODE_PATH_RE = re.compile(
    r"(?<![A-Za-z0-9_$:])((?:crate|super|self)(?:\s*::\s*(?:" + IDENT + r"))+)")


class Crate:
    def __init__(self, directory):
        self.directory = directory
        self.files = {}   # file → stripped code
        self.roots = []   # (target name, root Module)
        self.problems = []

    def read(self, file):
        if file not in self.files:
            with open(file, encoding="utf-8") as handle:
                self.files[file] = strip_comments_and_strings(handle.read())
        return self.files[file]

    def load_root(self, name, root_file):
        root = Module((), root_file, None, os.path.dirname(root_file))
        self.roots.append((name, root))
        self.load_file_module(root, root_file)
        return root

    def load_file_module(self, module, file):
        code = self.read(file)
        self.scan(module, code, 0, len(code), file)

    def scan(self, module, code, start, end, file):
        """Reads the items of `module` in code[start:end], descending into inline modules."""
        inner_spans = []
        pos = start
        while True:
            m = MOD_RE.search(code, pos, end)
            if not m:
                break
            name, kind = m.group(1), m.group(2)
            if kind == "{":
                open_at = m.end() - 1
                close = matching_brace(code, open_at)
                child_dir = os.path.join(module.child_dir, name)
                child = Module(module.path + (name,), file, module, child_dir)
                module.children[name] = child
                self.scan(child, code, open_at + 1, close, file)
                inner_spans.append((m.start(), close + 1))
                pos = close + 1
            else:
                path_attr = self.path_attribute(file, code, m.start())
                if path_attr:
                    child_file = os.path.join(module.child_dir, path_attr.group(1))
                else:
                    candidates = [os.path.join(module.child_dir, name + ".rs"),
                                  os.path.join(module.child_dir, name, "mod.rs")]
                    child_file = next((c for c in candidates if os.path.exists(c)), None)
                if child_file and os.path.exists(child_file):
                    is_mod_rs = os.path.basename(child_file) == "mod.rs"
                    child_dir = (os.path.dirname(child_file) if is_mod_rs
                                 else os.path.join(os.path.dirname(child_file), name))
                    child = Module(module.path + (name,), child_file, module, child_dir)
                    module.children[name] = child
                    self.load_file_module(child, child_file)
                else:
                    self.problems.append(f"{file}: no file for `mod {name};`")
                inner_spans.append((m.start(), m.end()))
                pos = m.end()

        def outside_inner(index):
            return not any(a <= index < b for a, b in inner_spans)

        own_code = "".join(
            ch if outside_inner(start + k) else (" " if ch != "\n" else "\n")
            for k, ch in enumerate(code[start:end]))
        use_spans = []
        for m in USE_RE.finditer(own_code):
            use_spans.append((m.start(), m.end()))
            for segments, bound in parse_use_tree(m.group(1)):
                if segments and segments[0] == "":
                    continue
                if bound == "*":
                    module.globs.append((module, segments[:-1]))
                    module.references.append((module, segments[:-1], "use " + "::".join(segments)))
                    continue
                if bound:
                    module.bindings[bound] = (module, segments)
                module.references.append((module, segments, "use " + "::".join(segments)))
        code_only = list(own_code)
        for a, b in use_spans:
            for k in range(a, b):
                if code_only[k] != "\n":
                    code_only[k] = " "
        code_only = "".join(code_only)
        for m in ITEM_RE.finditer(code_only):
            module.defines.add(m.group(1))
        for m in CODE_PATH_RE.finditer(code_only):
            segments = [s for s in re.sub(r"\s+", "", m.group(1)).split("::") if s]
            module.references.append((module, segments, "::".join(segments)))
        # Bare `child::x` paths in code (children are all known by now).
        for m in BARE_PATH_RE.finditer(code_only):
            name = m.group(1)
            if name in module.children and name not in PATH_KEYWORDS:
                module.references.append((module, [name, m.group(2)], f"{name}::{m.group(2)}"))

    def path_attribute(self, file, code, mod_at):
        """`#[path = "…"]` on the `mod x;` at `mod_at`, read from the raw text (the stripped code
        has the same positions but no string contents)."""
        item_start = max(code.rfind(";", 0, mod_at), code.rfind("}", 0, mod_at),
                         code.rfind("{", 0, mod_at)) + 1
        with open(file, encoding="utf-8") as handle:
            raw = handle.read()[item_start:mod_at]
        return re.search(r'#\[\s*path\s*=\s*"([^"]*)"', raw)

    # ---- resolution --------------------------------------------------------------------------

    def resolve(self, root, scope, segments, depth=0):
        """The module whose file defines what `segments` names, seen from `scope`; None when it
        is outside the crate."""
        if depth > 20 or not segments:
            return None
        first = segments[0]
        if first == "crate":
            current, rest = root, segments[1:]
        elif first == "self":
            current, rest = scope, segments[1:]
        elif first == "super":
            current, rest = scope, segments
            while rest and rest[0] == "super":
                current = current.parent if current.parent else current
                rest = rest[1:]
            if rest and rest[0] == "self":
                rest = rest[1:]
        elif first in scope.children:
            current, rest = scope, segments
        elif first in scope.bindings and scope.bindings[first][1] != segments:
            bound_scope, bound = scope.bindings[first]
            return self.resolve(root, bound_scope, bound + segments[1:], depth + 1)
        else:
            return None  # an external crate, a prelude or a local name
        for index, name in enumerate(rest):
            if name in current.children:
                current = current.children[name]
                continue
            return self.resolve_name(root, current, name, rest[index + 1:], depth)
        return current

    def resolve_name(self, root, module, name, rest, depth):
        if name in module.defines:
            return module
        if name in module.bindings:
            bound_scope, bound = module.bindings[name]
            # None: a re-export of another crate's item, which is no edge inside this one.
            return self.resolve(root, bound_scope, bound + rest, depth + 1)
        for glob_scope, glob in module.globs:
            target_module = self.resolve(root, glob_scope, glob, depth + 1)
            if target_module is None or target_module is module:
                continue
            if name in target_module.children:
                return self.resolve(root, target_module, [name] + rest, depth + 1)
            if name in target_module.defines or name in target_module.bindings:
                return self.resolve_name(root, target_module, name, rest, depth + 1)
        return module

    def graph(self):
        """{file: {target file: first reference text}} over every root's module tree."""
        edges = {}
        for _, root in self.roots:
            stack = [root]
            while stack:
                module = stack.pop()
                stack.extend(module.children.values())
                edges.setdefault(module.file, {})
                for scope, segments, text in module.references:
                    target = self.resolve(root, scope, segments)
                    if target is None or target.file == module.file:
                        continue
                    edges[module.file].setdefault(target.file, text)
        return edges


def crate_roots(directory):
    """(target, root file) of the crate's library and binaries."""
    roots = []
    manifest = os.path.join(directory, "Cargo.toml")
    declared = {}
    if tomllib and os.path.exists(manifest):
        with open(manifest, "rb") as handle:
            declared = tomllib.load(handle)
    lib = declared.get("lib", {}).get("path") or "src/lib.rs"
    if os.path.exists(os.path.join(directory, lib)):
        roots.append(("lib", os.path.join(directory, lib)))
    bins = [(b.get("name", "bin"), b["path"]) for b in declared.get("bin", []) if "path" in b]
    if not bins and os.path.exists(os.path.join(directory, "src/main.rs")):
        bins.append(("main", "src/main.rs"))
    bin_dir = os.path.join(directory, "src", "bin")
    if os.path.isdir(bin_dir):
        for entry in sorted(os.listdir(bin_dir)):
            full = os.path.join(bin_dir, entry)
            if entry.endswith(".rs"):
                bins.append((entry[:-3], os.path.relpath(full, directory)))
            elif os.path.exists(os.path.join(full, "main.rs")):
                bins.append((entry, os.path.relpath(os.path.join(full, "main.rs"), directory)))
    seen = {os.path.normpath(path) for _, path in roots}
    for name, path in bins:
        full = os.path.normpath(os.path.join(directory, path))
        if full not in seen and os.path.exists(full):
            roots.append((name, full))
            seen.add(full)
    return roots


def strongly_connected(edges):
    """Tarjan's algorithm, iterative: the components, each a sorted list of files."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    counter = [0]
    nodes = set(edges) | {t for targets in edges.values() for t in targets}
    for start in sorted(nodes):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, {}))))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = counter[0]
                    counter[0] += 1
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(edges.get(succ, {})))))
                    advanced = True
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def find_cycles(directory):
    """(cycles, problems): each cycle a list of files and the edges between them."""
    crate = Crate(directory)
    for name, root_file in crate_roots(directory):
        crate.load_root(name, root_file)
    if not crate.roots:
        crate.problems.append(f"{directory}: no library or binary root found")
    edges = crate.graph()
    cycles = []
    for component in strongly_connected(edges):
        if len(component) < 2:
            continue
        members = set(component)
        inner = [(a, b, edges[a][b]) for a in component for b in sorted(edges.get(a, {}))
                 if b in members]
        cycles.append((component, inner))
    return cycles, crate.problems


def report(directory, cycles):
    for component, inner in cycles:
        names = [os.path.relpath(f, directory) for f in component]
        print(f"{directory}: import cycle between {len(names)} files: {', '.join(names)}")
        for a, b, text in inner:
            print(f"    {os.path.relpath(a, directory)} -> {os.path.relpath(b, directory)}  ({text})")


def main(directories):
    found = 0
    for directory in directories:
        directory = directory.rstrip("/") or "/"
        cycles, problems = find_cycles(directory)
        for problem in problems:
            print(f"note: {problem}", file=sys.stderr)
        report(directory, cycles)
        found += len(cycles)
        if not cycles:
            print(f"{directory}: no import cycles")
    return 1 if found else 0


# ---- self-test -------------------------------------------------------------------------------

def write_crate(root, files):
    for path, text in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as handle:
            handle.write(text)


def self_test():
    failures = []

    def expect(name, condition):
        print(f"{'ok  ' if condition else 'FAIL'} {name}")
        if not condition:
            failures.append(name)

    with tempfile.TemporaryDirectory() as tmp:
        looped = os.path.join(tmp, "looped")
        write_crate(looped, {
            "Cargo.toml": '[package]\nname = "looped"\n',
            "src/lib.rs": "pub mod a;\nmod b;\npub mod c;\npub use c::Leaf;\n",
            # a → b (a `use` tree), b → c (a path in code), c → a (through lib.rs's re-export).
            "src/a.rs": "use crate::b::{self, Helper};\npub struct A(Helper);\n",
            "src/b.rs": "pub struct Helper;\npub fn f() -> u8 { crate::c::g() }\n",
            "src/c.rs": "pub struct Leaf;\npub fn g() -> u8 { let _ = std::mem::size_of::<crate::A>(); 1 }\n",
        })
        # lib.rs re-exports `a::A` under another name, so c's `crate::A` must follow it.
        with open(os.path.join(looped, "src/lib.rs"), "a", encoding="utf-8") as handle:
            handle.write("pub use a::A;\n")
        cycles, _ = find_cycles(looped)
        files = {os.path.basename(f) for component, _ in cycles for f in component}
        expect("a three-file loop is reported", len(cycles) == 1 and files == {"a.rs", "b.rs", "c.rs"})

        layered = os.path.join(tmp, "layered")
        write_crate(layered, {
            "Cargo.toml": '[package]\nname = "layered"\n',
            "src/lib.rs": "pub mod base;\npub mod http;\npub use base::Config;\n"
                          "pub fn start() -> Config { http::serve() }\n",
            "src/base.rs": "//! Uses crate::http in a comment only.\n"
                           "pub struct Config;\nconst DOC: &str = \"crate::http::serve\";\n"
                           "#[cfg(test)]\nmod tests {\n    use super::*;\n    use crate::Config;\n}\n",
            "src/http/mod.rs": "mod routes;\npub use routes::serve;\n",
            "src/http/routes.rs": "use super::super::base::Config;\n"
                                  "pub fn serve() -> Config { crate::Config }\n",
            "src/main.rs": "mod cli;\nfn main() { cli::run() }\n",
            "src/cli.rs": "pub fn run() { layered::start(); }\n",
        })
        cycles, problems = find_cycles(layered)
        expect("a layered crate (re-exports, comments, strings, tests, a binary) has none",
               cycles == [] and problems == [])

        parent_loop = os.path.join(tmp, "parent_loop")
        write_crate(parent_loop, {
            "Cargo.toml": '[package]\nname = "parent_loop"\n',
            "src/lib.rs": "pub mod google;\n",
            "src/google/mod.rs": "mod api;\npub const PATH: &str = \"/x\";\n"
                                 "pub fn routes() { api::handler() }\n",
            "src/google/api.rs": "use super::PATH;\npub fn handler() { let _ = PATH; }\n",
        })
        cycles, _ = find_cycles(parent_loop)
        files = {os.path.relpath(f, parent_loop) for component, _ in cycles for f in component}
        expect("a mod.rs and its child that use each other are reported",
               files == {"src/google/mod.rs", "src/google/api.rs"})

    expect("use trees expand with self, aliases and globs",
           parse_use_tree("crate::a::{self, b::{C, D as E}, f::*}") == [
               (["crate", "a"], "a"), (["crate", "a", "b", "C"], "C"),
               (["crate", "a", "b", "D"], "E"), (["crate", "a", "f", "*"], "*")])
    expect("comments and strings are blanked",
           "crate" not in strip_comments_and_strings('// crate::x\nlet s = "crate::y"; /* crate */ \'c\';'))
    return 1 if failures else 0


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if arguments == ["--self-test"]:
        sys.exit(self_test())
    if not arguments or any(a.startswith("-") for a in arguments):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(arguments))
