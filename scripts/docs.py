"""Build the documentation site offline from nbs/ and their stored outputs (nothing is re-executed): `make docs`.

One page per notebook in teaching order with a sidebar (mkdocs-material, notebooks rendered by mkdocs-jupyter), math
typeset by a MathJax copied from the `jupyter-server-mathjax` package (no network), and after every export cell the
signature and docstring of each definition it exports, as nbdev's `show_doc` gives them. A command-line reference page
is generated from the launchers' argparse parsers, so it cannot drift from the code. The site lands in _docs/site
(git ignores _docs/); open _docs/site/index.html.
"""
import argparse, ast, inspect, importlib, json, os, re, shutil, subprocess, sys
from pathlib import Path
import jupyter_server_mathjax

ROOT = Path(__file__).resolve().parent.parent
NBS, BUILD = ROOT/'nbs', ROOT/'_docs'
SRC, SITE = BUILD/'src', BUILD/'site'
REPO = 'https://github.com/moco-nb/moco_nb/blob/main/'
MATHJAX = 'mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full'
# the flags of the official facebookresearch/moco scripts (main_moco.py, main_lincls.py), marked in the reference
OFFICIAL = {'moco-pretrain': {'data', '-a', '-j', '--epochs', '--start-epoch', '-b', '--lr', '--schedule', '--momentum', '--wd', '-p',
                              '--resume', '--world-size', '--rank', '--dist-url', '--dist-backend', '--seed', '--gpu',
                              '--multiprocessing-distributed', '--moco-dim', '--moco-k', '--moco-m', '--moco-t', '--mlp', '--aug-plus', '--cos'},
            'moco-lincls': {'data', '-a', '-j', '--epochs', '--start-epoch', '-b', '--lr', '--schedule', '--momentum', '--wd', '-p',
                            '--resume', '-e', '--world-size', '--rank', '--dist-url', '--dist-backend', '--seed', '--gpu',
                            '--multiprocessing-distributed', '--pretrained'}}
CSS = """.jupyter-wrapper .jp-InputPrompt, .jupyter-wrapper .jp-OutputPrompt { display: none !important; }   /* a page, not a kernel: no In [ ] */
blockquote code { font-size: 0.95em; }"""
COMMANDS = {'moco-pretrain': 'pretrain', 'moco-lincls': 'lincls', 'moco-knn': 'knn', 'moco-demo': 'demo'}

def notebooks():
    "The notebooks in teaching order: index first, then by name (scratch notebooks, `_*`, left out)."
    nbs = sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith('_') and p.name != 'index.ipynb')
    return [NBS/'index.ipynb'] + nbs

def default_exp(nb):
    for c in nb['cells']:
        m = re.match(r'\s*#\s*\|\s*default_exp\s+(\S+)', ''.join(c['source']))
        if m: return m.group(1)
    return None

def api_entry(module, name):
    "Markdown for one exported name: its qualified name, signature and docstring (a class: also its public methods)."
    obj = getattr(module, name)
    qual = f'{module.__name__}.{name}'
    if not callable(obj): return f'<a id="{qual}"></a>\n> **`{qual}`** = `{repr(obj)[:120]}`\n'
    try: sig = str(inspect.signature(obj))
    except (TypeError, ValueError): sig = '(...)'
    kind = 'class ' if inspect.isclass(obj) else ''
    out = [f'<a id="{qual}"></a>', f'> {kind}**`{qual}`**`{sig}`', '>', f'> {inspect.getdoc(obj) or ""}'.replace('\n', '\n> ')]
    if inspect.isclass(obj):
        for m, f in vars(obj).items():
            if m.startswith('_') or not callable(f) or not inspect.getdoc(f): continue
            out += ['>', f'> - `{m}{inspect.signature(f)}`: {inspect.getdoc(f).splitlines()[0]}']
    return '\n'.join(out) + '\n'

def exported_names(src, module):
    "The names an export cell defines that `module` exports."
    body = '\n'.join(l for l in src.splitlines() if not l.lstrip().startswith('#|'))
    try: tree = ast.parse(body)
    except SyntaxError: return []
    names = []
    for n in tree.body:
        if isinstance(n, (ast.FunctionDef, ast.ClassDef)): names.append(n.name)
        elif isinstance(n, ast.Assign): names += [t.id for t in n.targets if isinstance(t, ast.Name)]
    return [n for n in names if n in getattr(module, '__all__', [])]

def md_cell(text): return dict(cell_type='markdown', metadata={}, source=text)

def relink(text):
    "Links between notebooks point to their pages; links to the repository's other files, to GitHub."
    text = re.sub(r'\]\((?!https?:|#)([\w.-]+?)\.ipynb(#[^)]*)?\)', lambda m: f']({m.group(1)}.html{m.group(2) or ""})', text)
    text = text.replace('](../_docs/site/', '](')                     # the site itself
    return re.sub(r'\]\(\.\./([^)]+)\)', lambda m: f']({REPO}{m.group(1)})', text)

def stage(path):
    "A copy of notebook `path` for the site: API entries after the export cells, links to pages."
    nb = json.loads(path.read_text())
    exp = default_exp(nb)
    module = importlib.import_module(f'moco_nb.{exp}') if exp else None
    cells = []
    for c in nb['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'markdown': c['source'] = relink(src)
        if c['cell_type'] == 'code' and re.match(r'\s*#\s*\|\s*(hide|default_exp)', src): continue   # as nbdev's docs: not shown
        if c['cell_type'] == 'code': c['source'] = '\n'.join(l for l in src.splitlines() if not re.match(r'\s*#\s*\|', l))
        cells.append(c)
        if module is not None and c['cell_type'] == 'code' and re.match(r'\s*#\s*\|\s*export', src):
            entries = [api_entry(module, n) for n in exported_names(src, module)]
            if entries: cells.append(md_cell('\n'.join(entries)))
    nb['cells'] = cells
    (SRC/path.name).write_text(json.dumps(nb))

def flag_rows(command, parser):
    official = OFFICIAL.get(command, set())
    rows = []
    for a in parser._actions:
        if a.dest == 'help': continue
        names = ', '.join(f'`{o}`' for o in a.option_strings) or f'`{a.metavar or a.dest}` (positional)'
        key = a.option_strings[0] if a.option_strings else 'data'
        default = '' if a.default in (None, '', False, argparse.SUPPRESS) else f'`{a.default}`'
        mark = 'yes' if key in official else ''
        help_ = (a.help or '').replace('|', '\\|').replace('\n', ' ')
        if a.choices and not any(str(c) in help_ for c in a.choices): help_ += f" (one of: {', '.join(map(str, a.choices))})"
        rows.append(f'| {names} | {default} | {mark} | {help_} |')
    return rows

def cli_page():
    "Markdown: every flag of every console script, from its parser."
    out = ['# Command-line reference', '',
           "Generated from the parsers of the console scripts by `make docs`, so it lists exactly what `--help` lists. "
           "*official* marks the flags of the official `main_moco.py` / `main_lincls.py` (same name, same default unless the "
           "notebook of the command says otherwise); the others are this package's extras, off by default.", '']
    for command, module in COMMANDS.items():
        parser = importlib.import_module(f'moco_nb.{module}').get_parser()
        out += [f'## `{command}`', '', parser.description or '', '', '```', parser.format_usage().strip(), '```', '',
                '| flag | default | official | what it does |', '|---|---|---|---|', *flag_rows(command, parser), '']
    return '\n'.join(out)

def tracks():
    "{notebook file: 'Core track' or 'Appendix'}, from the two tables of nbs/index.ipynb (their first column names the notebooks)."
    section, out = None, {}
    for line in ''.join(''.join(c['source']) for c in json.loads((NBS/'index.ipynb').read_text())['cells']).splitlines():
        if line.startswith('| core track |'): section = 'Core track'
        elif line.startswith('| appendix |'): section = 'Appendix'
        elif section and (m := re.match(r'\| `(\w+)` \|', line)): out[f'{m[1]}.ipynb'] = section
        elif not line.startswith('|'): section = None
    return out

def mkdocs_yml(pages):
    "The site's configuration; `pages` are (title, file) in teaching order, the notebooks grouped as index.ipynb's tables group them."
    track = tracks()
    missing = [name for _, name in pages if name != 'index.ipynb' and name not in track]
    if missing: sys.exit(f"docs: {', '.join(missing)} in neither table of nbs/index.ipynb (core track, appendix): add it there")
    nav = '\n'.join(['  - "Home": index.ipynb'] + [f'  - "{section}":\n' + '\n'.join(f'    - "{t}": {n}' for t, n in pages if track.get(n) == section)
                                                  for section in ('Core track', 'Appendix')])
    return f"""site_name: moco_nb
site_description: MoCo v1 and v2 as literate nbdev notebooks
use_directory_urls: false
repo_url: {REPO.rsplit('/blob/', 1)[0]}
theme:
  name: material
  font: false
  features: [navigation.sections, navigation.footer, toc.follow]
plugins:
  - search
  - mkdocs-jupyter:
      execute: false
      include_source: false
      ignore_h1_titles: true
      custom_mathjax_url: "{MATHJAX}"
extra_css: [docs.css]
markdown_extensions: [tables, toc]
nav:
{nav}
  - "Command-line reference": cli.md
"""

def title_of(path):
    nb = json.loads(path.read_text())
    first = ''.join(nb['cells'][0]['source']).splitlines()[0].lstrip('# ').strip()
    return 'Home' if path.name == 'index.ipynb' else f'{path.stem.split("_")[0]} {first}'

def main():
    if SRC.exists(): shutil.rmtree(SRC)
    SRC.mkdir(parents=True)
    pages = []
    for p in notebooks():
        stage(p); pages.append((title_of(p), p.name))
    shutil.copytree(NBS/'images', SRC/'images')
    shutil.copytree(Path(jupyter_server_mathjax.__file__).parent/'static', SRC/'mathjax')
    (SRC/'cli.md').write_text(cli_page())
    (SRC/'docs.css').write_text(CSS)
    (BUILD/'mkdocs.yml').write_text(mkdocs_yml(pages).replace('nav:', 'docs_dir: src\nsite_dir: site\nnav:', 1))
    r = subprocess.run([sys.executable, '-m', 'mkdocs', 'build', '-q', '-f', str(BUILD/'mkdocs.yml')], env=dict(os.environ, NO_MKDOCS_2_WARNING='1'))
    if r.returncode: sys.exit(r.returncode)
    print(f"docs: {len(pages)} notebook pages and the command-line reference in {SITE.relative_to(ROOT)}/ (open index.html)")

if __name__ == '__main__': main()
