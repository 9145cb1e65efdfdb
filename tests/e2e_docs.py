"""The documentation site in a real browser (headless Chromium): the index and four pages must load from disk, offline,
with their math typeset by MathJax, every image loaded and every internal link resolving; a notebook's API entries must
be there, every notebook must have its page, and the command-line reference must list every flag of `moco-pretrain --help`. A screenshot of a typeset equation above a figure goes to
test-artifacts/docs.png. Run `make docs` first (make test does). Last line: "docs-e2e: P passed, F failed"."""
import sys, time
from pathlib import Path
from urllib.parse import unquote, urlparse
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parent.parent
SITE, ART = ROOT/'_docs'/'site', ROOT/'test-artifacts'
PAGES = {'index.html': dict(), '04_infonce.html': dict(math=True, figure=True), '09a_curves.html': dict(figure=True),
         '08b_engine.html': dict(math=True, api='moco_nb.engine.train_step'), 'cli.html': dict(text='--moco-k')}
TYPESET = "return document.querySelectorAll('.MathJax, .MathJax_Display, .MathJax_CHTML, mjx-container').length"

def check_page(driver, name, want):
    "The failures of page `name` (a list of strings; empty: it passed)."
    driver.get((SITE/name).as_uri())
    bad = []
    if want.get('math'):
        t0 = time.time()
        while driver.execute_script(TYPESET) == 0 and time.time() - t0 < 30: time.sleep(0.5)
        if driver.execute_script(TYPESET) == 0: bad.append('no typeset math (MathJax did not run)')
    imgs = driver.execute_script("return [...document.images].map(i => [i.currentSrc.slice(0, 80), i.complete && i.naturalWidth > 0])")
    bad += [f'image not loaded: {src}' for src, ok in imgs if not ok]
    if want.get('figure') and not any(ok and src.startswith('data:image') or 'images/' in src for src, ok in imgs): bad.append('no figure')
    here = SITE/name
    for href in driver.execute_script("return [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))"):
        u = urlparse(href)
        if u.scheme in ('http', 'https', 'mailto', 'javascript') or href.startswith('//'): continue
        target = here if not u.path else (here.parent/unquote(u.path)).resolve()
        if not target.exists(): bad.append(f'broken link: {href}'); continue
        if u.fragment and target == here and not driver.execute_script("return !!document.getElementById(arguments[0])", unquote(u.fragment)):
            bad.append(f'broken anchor: {href}')
    if want.get('api') and not driver.execute_script("return !!document.getElementById(arguments[0])", want['api']):
        bad.append(f"no API entry {want['api']}")
    body = driver.find_element('tag name', 'body').text
    if want.get('text') and want['text'] not in body: bad.append(f"no '{want['text']}'")
    bad += [f'flag {f} missing' for f in want.get('flags', ()) if f not in body]
    return bad

def screenshot(driver, pages=('04_infonce.html', '02_queue.html', '03_momentum.html', '07_schedule.html')):
    "test-artifacts/docs.png: the first figure of `pages` with a typeset equation at most 1,500 px above it, from the equation down."
    for name in pages:
        driver.get((SITE/name).as_uri())
        t0 = time.time()
        while driver.execute_script(TYPESET) == 0 and time.time() - t0 < 30: time.sleep(0.5)
        span = driver.execute_script("""
            const y = e => e.getBoundingClientRect().top + scrollY;
            const maths = [...document.querySelectorAll('.MathJax_Display, .MathJax')];
            for (const img of [...document.images].filter(i => i.naturalWidth > 100)) {
                const above = maths.filter(m => y(m) < y(img) && y(img) - y(m) < 1500);
                if (above.length) return [y(above[0]) - 60, img.getBoundingClientRect().bottom + scrollY + 20];
            }
            return null;""")
        if span is None: continue
        driver.set_window_size(1400, int(span[1] - span[0]) + 140)
        driver.execute_script("window.scrollTo(0, arguments[0])", span[0])
        time.sleep(0.5)
        ART.mkdir(exist_ok=True)
        driver.save_screenshot(str(ART/'docs.png'))
        return f'{name}, {int(span[1] - span[0])} px'
    return None

def main():
    if not (SITE/'index.html').exists(): sys.exit("docs-e2e: no site in _docs/site: run `make docs` first\ndocs-e2e: 0 passed, 1 failed")
    missing = [p.stem for p in sorted((ROOT/'nbs').glob('*.ipynb')) if not p.name.startswith('_') and not (SITE/f'{p.stem}.html').exists()]
    opts = webdriver.ChromeOptions()
    opts.binary_location = '/usr/bin/chromium'
    for a in ['--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--window-size=1400,1000']: opts.add_argument(a)
    driver = webdriver.Chrome(service=Service('/usr/bin/chromedriver'), options=opts)
    from moco_nb.pretrain import get_parser                       # the reference must list every flag --help lists
    PAGES['cli.html']['flags'] = [o for a in get_parser()._actions for o in a.option_strings]
    passed = failed = 0
    try:
        if missing: print(f"docs-e2e: notebooks without a page: {', '.join(missing)}"); failed += 1
        for name, want in PAGES.items():
            bad = check_page(driver, name, want)
            print(f"docs-e2e: {name}: {'ok' if not bad else '; '.join(bad[:5])}")
            passed, failed = passed + (not bad), failed + bool(bad)
        shot = screenshot(driver)
        print(f"docs-e2e: screenshot {ART.relative_to(ROOT)}/docs.png ({shot})" if shot else "docs-e2e: no page with an equation above a figure")
        passed, failed = passed + bool(shot), failed + (not shot)
    finally: driver.quit()
    print(f"docs-e2e: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)

if __name__ == '__main__': main()
