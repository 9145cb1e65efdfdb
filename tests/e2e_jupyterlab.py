#!/usr/bin/env python
"""End-to-end check of the reader's experience: open a notebook in JupyterLab (headless Chromium), Run All Cells,
and require a matplotlib figure, a live ipywidgets widget and no error output.
Usage: .venv/bin/python tests/e2e_jupyterlab.py [NOTEBOOK] [--timeout S]
NOTEBOOK: a name in nbs/ (default 01_augment.ipynb) or a path to any notebook. nbs/ itself is never touched: JupyterLab
runs on a temporary copy. Artifacts (screenshot, JupyterLab log) go to test-artifacts/."""
import argparse, json, os, re, secrets, shutil, socket, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

REPO = Path(__file__).resolve().parent.parent
ART = REPO/'test-artifacts'
class Failure(Exception): pass

def wait_for(cond, timeout, what, every=0.5):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond(): return
        time.sleep(every)
    raise Failure(f'timed out after {timeout}s waiting for {what}')

def free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def make_root(tmp, notebook):
    "Copy nbs/ into tmp (so autosave/outputs never touch the repo); return (root dir, notebook name in it)."
    root = tmp/'nbs'
    shutil.copytree(REPO/'nbs', root, ignore=shutil.ignore_patterns('.ipynb_checkpoints'))
    (tmp/'data').symlink_to(REPO/'data')           # notebooks may use the relative path ../data
    shutil.copy(REPO/'pyproject.toml', tmp)         # nbdev finds its config by walking up from the notebook
    if Path(notebook).is_absolute() or not (root/notebook).is_file():   # not a name in nbs/: copy it in
        if not Path(notebook).is_file(): raise Failure(f'notebook not found: {notebook}')
        shutil.copy(notebook, root); notebook = Path(notebook).name
    # Lab settings in a private config dir: no "Jupyter news" toast over the screenshot, and every cell attached to
    # the DOM (the default windowing mode may skip off-screen cells, which would hide their prompts/outputs from us).
    us = tmp/'config/lab/user-settings/@jupyterlab'
    for ext, settings in [('apputils-extension/notification', {'fetchNews': 'false', 'checkForUpdates': False}),
                          ('notebook-extension/tracker', {'windowingMode': 'none'})]:
        (us/ext).parent.mkdir(parents=True, exist_ok=True)
        (us/f'{ext}.jupyterlab-settings').write_text(json.dumps(settings))
    return root, notebook

# One look at the page: prompts of the code cells, error outputs, rendered figures and widgets.
STATE_JS = r"""
const outs = [...document.querySelectorAll('.jp-OutputArea-output')];
const cellOf = e => e.closest('.jp-CodeCell')?.querySelector('.jp-InputPrompt')?.innerText.trim();
return {
  kernel: document.querySelector('#jp-main-statusbar')?.innerText || '',
  dialog: document.querySelector('.jp-Dialog')?.innerText || '',
  prompts: [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.innerText.trim()),
  errors: outs.filter(e => e.dataset.mimeType === 'application/vnd.jupyter.stderr' && e.innerText.includes('Traceback'))
              .map(e => cellOf(e) + ' ' + e.innerText.trim().split('\n').filter(l => l.trim()).pop()),
  images: outs.flatMap(e => [...e.querySelectorAll('img')]).filter(i => i.complete && i.naturalWidth > 0).length,
  widgets: document.querySelectorAll('.jp-OutputArea-output .jupyter-widgets').length,
  widget_problems: outs.map(e => e.innerText).filter(t => /Error displaying widget|Loading widget\.\.\./.test(t)),
};"""

def run_notebook(driver, url, timeout):
    state = lambda: driver.execute_script(STATE_JS)
    driver.get(url)
    def ready():                                   # notebook shown and its kernel connected
        s = state()
        if s['dialog']: raise Failure('unexpected dialog: ' + ' '.join(s['dialog'].split()))
        return s['prompts'] and '| Idle' in s['kernel']
    wait_for(ready, 120, 'the notebook to open with an idle kernel')
    # Run All Cells through the Run menu, as a reader would (data-command is stable across UI languages).
    next(m for m in driver.find_elements(By.CSS_SELECTOR, '.lm-MenuBar-item') if m.text.strip() == 'Run').click()
    driver.find_element(By.CSS_SELECTOR, '.lm-Menu-item[data-command="runmenu:run-all"]').click()
    # Finished: the first cell got a number, none is queued/running ([*]), the kernel is idle; twice in a row. A cell
    # that raises stops Run All, so the cells after it keep "[ ]" and are reported below.
    done = []
    def finished():
        s = state()
        done.append(bool(re.fullmatch(r'\[\d+\]:', s['prompts'][0])) and '[*]:' not in s['prompts']
                    and '| Idle' in s['kernel'])
        return done[-2:] == [True, True]
    wait_for(finished, timeout, 'Run All Cells to finish', every=1)
    s = state()
    if s['errors']: raise Failure('cell raised: ' + '; '.join(s['errors']))
    if not_run := [p for p in s['prompts'] if not re.fullmatch(r'\[\d+\]:', p)]:
        raise Failure(f'{len(not_run)} code cell(s) did not run')
    try:                                           # outputs render after the kernel is idle: give them a moment
        wait_for(lambda: (t := state())['images'] and t['widgets'] and not t['widget_problems'], 30, '')
    except Failure: pass                           # the checks below say what is missing
    s = state()
    if not s['images']: raise Failure('no figure (<img> output) rendered')
    if s['widget_problems']: raise Failure('widget did not render: ' + s['widget_problems'][0].strip())
    if not s['widgets']: raise Failure('no ipywidgets widget rendered')
    return s

def screenshot(driver, path):
    "Scroll the most telling output into view (an error, else a widget, else a figure), then save the window."
    driver.execute_script("""(
        document.querySelector('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
        || document.querySelector('.jp-OutputArea-output .jupyter-widgets')
        || document.querySelector('.jp-OutputArea-output img'))?.scrollIntoView({block: 'center'})""")
    driver.save_screenshot(str(path))

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('notebook', nargs='?', default='01_augment.ipynb')
    ap.add_argument('--timeout', type=float, default=600, help='seconds allowed for Run All Cells')
    args = ap.parse_args()
    ART.mkdir(exist_ok=True)
    (ART/'jupyterlab_e2e.png').unlink(missing_ok=True)   # never leave a stale screenshot from an earlier run
    tmp = Path(tempfile.mkdtemp(prefix='moco_nb_e2e_'))
    server = driver = None; ok = False
    token, port = secrets.token_hex(16), free_port()
    try:
        root, name = make_root(tmp, args.notebook)
        # The kernel inherits this environment: the repo's data (MOCO_NB_DATA), a private Jupyter config/runtime dir
        # (the reader's own settings and workspaces are neither used nor changed); IN_TEST is not set on purpose.
        env = dict(os.environ, MOCO_NB_DATA=str(REPO/'data'), JUPYTER_CONFIG_DIR=str(tmp/'config'),
                   JUPYTER_RUNTIME_DIR=str(tmp/'runtime'))
        env.pop('IN_TEST', None)
        # jupyter of the venv running this script; port_retries=0: fail rather than silently move to another port
        cmd = [str(Path(sys.executable).with_name('jupyter')), 'lab', '--no-browser', f'--port={port}',
               f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={root}', '--ServerApp.ip=127.0.0.1',
               '--ServerApp.port_retries=0'] + (['--allow-root'] if os.geteuid() == 0 else [])
        log = open(ART/'jupyterlab_e2e.log', 'w')
        server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp)
        base = f'http://127.0.0.1:{port}'
        def answers():
            if server.poll() is not None: raise Failure(f'JupyterLab exited ({server.returncode}); see {log.name}')
            try: return urllib.request.urlopen(f'{base}/api/status?token={token}', timeout=2).status == 200
            except OSError: return False
        wait_for(answers, 60, 'JupyterLab to answer')
        opts = webdriver.ChromeOptions()
        opts.binary_location = '/usr/bin/chromium'
        for a in ['--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--window-size=1400,1000']:
            opts.add_argument(a)
        driver = webdriver.Chrome(service=Service('/usr/bin/chromedriver'), options=opts)
        s = run_notebook(driver, f'{base}/lab/tree/{name}?token={token}', args.timeout)
        print(f"e2e: {name}: {len(s['prompts'])} code cells ran, {s['images']} figure(s), "
              f"{s['widgets']} widget view(s)")
        ok = True
    except Exception as e:                         # Failure, or e.g. a Selenium error: report its first line
        why = str(e) if isinstance(e, Failure) else f'{type(e).__name__}: {str(e).strip()}'.splitlines()[0]
        print(f'e2e: FAILED {args.notebook}: {why}')
    finally:
        if driver:                                 # a failed screenshot must not skip the shutdowns below
            try: screenshot(driver, ART/'jupyterlab_e2e.png')
            except Exception as e: print(f'e2e: no screenshot ({type(e).__name__})')
            try: driver.quit()
            except Exception: pass
        if server:                                 # shut down via the API (stops the kernel too), else terminate
            try: urllib.request.urlopen(urllib.request.Request(f'{base}/api/shutdown', method='POST',
                                        headers={'Authorization': f'token {token}'}), timeout=5)
            except OSError: server.terminate()
            try: server.wait(15)
            except subprocess.TimeoutExpired: server.kill(); server.wait()
            log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f'e2e: {int(ok)} passed, {int(not ok)} failed')
    sys.exit(0 if ok else 1)

if __name__ == '__main__': main()
