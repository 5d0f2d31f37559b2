"""In-page checks for what axe-core does not test: run in the browser on the page as rendered.

Each ``*_JS`` is a JavaScript function that Playwright's ``page.evaluate`` runs and that returns a list of
problems (empty when the page passes). They read computed styles and layout boxes, so they judge what a
patient actually sees, not the CSS source.
"""

from __future__ import annotations

# Elements hidden from everyone (display none, visibility hidden, the aria-hidden honeypot, the skip link
# until focused, visually-hidden text for screen readers) are not judged on their looks.
_VISIBLE = """
const shown = (el) => {
  if (!el || el.closest('[aria-hidden="true"]')) return false;
  if (el.closest('.visually-hidden')) return false;
  if (typeof el.checkVisibility === 'function' && !el.checkVisibility({visibilityProperty: true})) return false;
  const r = el.getBoundingClientRect();
  return r.width > 1 && r.height > 1 && r.right > 0 && r.bottom > -window.scrollY - 10000 && r.left > -1000;
};
const textNodes = () => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const nodes = [];
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || ['SCRIPT', 'STYLE', 'NOSCRIPT'].includes(el.tagName)) continue;
    if (shown(el)) nodes.push(node);
  }
  return nodes;
};
const snippet = (text) => text.trim().replace(/\\s+/g, ' ').slice(0, 50);
"""

# WCAG 1.4.6 (AAA): 7:1 for text. The background is the first ancestor with a colour, blended through any
# translucent ones; a background image would make that unknown, and is reported as such.
CONTRAST_JS = (
    "(minimum) => {"
    + _VISIBLE
    + """
  const rgba = (value) => {
    const m = value.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const over = (top, bottom) => ({
    r: top.r * top.a + bottom.r * (1 - top.a), g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a), a: 1,
  });
  const background = (el) => {
    const layers = [];
    for (let node = el; node; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (style.backgroundImage && style.backgroundImage !== 'none') return null;
      const colour = rgba(style.backgroundColor);
      if (colour && colour.a > 0) { layers.push(colour); if (colour.a >= 1) break; }
    }
    let result = {r: 255, g: 255, b: 255, a: 1};  // the canvas
    for (const layer of layers.reverse()) result = over(layer, result);
    return result;
  };
  const luminance = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const problems = [];
  const seen = new Set();
  for (const node of textNodes()) {
    const el = node.parentElement;
    if (seen.has(el)) continue;
    seen.add(el);
    const style = getComputedStyle(el);
    const back = background(el);
    if (!back) { problems.push(`background image behind "${snippet(node.textContent)}"`); continue; }
    let fore = rgba(style.color);
    let opacity = 1;
    for (let n = el; n; n = n.parentElement) opacity *= Number(getComputedStyle(n).opacity);
    fore = over({...fore, a: fore.a * opacity}, back);
    const [hi, lo] = [luminance(fore), luminance(back)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (ratio < minimum) {
      problems.push(`${ratio.toFixed(2)}:1 "${snippet(node.textContent)}" (${style.color} on ` +
                    `rgb(${Math.round(back.r)}, ${Math.round(back.g)}, ${Math.round(back.b)}))`);
    }
  }
  return problems;
}"""
)

# Body text at least ``minimum`` CSS px (19 px, GOV.UK's body size): every visible piece of text.
FONT_SIZE_JS = (
    "(minimum) => {"
    + _VISIBLE
    + """
  const problems = [];
  for (const node of textNodes()) {
    const size = parseFloat(getComputedStyle(node.parentElement).fontSize);
    if (size < minimum - 0.01) problems.push(`${size}px "${snippet(node.textContent)}"`);
  }
  return problems;
}"""
)

# Touch targets at least 44x44 CSS px (WCAG 2.5.5, AAA): links, buttons, radios, checkboxes, text boxes,
# selects. A link inside a sentence is exempt, as WCAG's "inline" exception says; a link that stands alone
# (the only text of its block) is not. Radios and checkboxes are measured as the input itself, which the
# large GOV.UK-style pattern makes 44x44 (its label adds to the target).
TARGET_SIZE_JS = (
    "(minimum) => {"
    + _VISIBLE
    + """
  const blockOf = (el) => {
    let node = el.parentElement;
    while (node && getComputedStyle(node).display.startsWith('inline')) node = node.parentElement;
    return node;
  };
  const problems = [];
  const controls = document.querySelectorAll(
    'a[href], button, input:not([type="hidden"]), select, textarea, [tabindex]:not([tabindex="-1"])');
  for (const el of controls) {
    if (el.closest('[aria-hidden="true"]') || el.classList.contains('skip-link')) continue;
    const choice = el.type === 'radio' || el.type === 'checkbox';
    if (!choice && !shown(el)) continue;
    if (el.tagName === 'A') {
      const block = blockOf(el);
      if (block && block.textContent.trim().replace(/\\s+/g, ' ') !== el.textContent.trim().replace(/\\s+/g, ' ')) {
        continue;  // inside a sentence
      }
    }
    const r = el.getBoundingClientRect();
    if (r.width < minimum - 0.5 || r.height < minimum - 0.5) {
      const name = snippet(el.textContent || el.value || el.id || el.name || el.tagName);
      problems.push(`${el.tagName.toLowerCase()} "${name}" is ${r.width.toFixed(1)}x${r.height.toFixed(1)}`);
    }
  }
  return problems;
}"""
)

# Horizontal scrolling: the page is wider than the window.
OVERFLOW_JS = """() => {
  const doc = document.documentElement;
  if (doc.scrollWidth <= doc.clientWidth) return [];
  const wide = [...document.querySelectorAll('body *')]
    .filter((el) => el.getBoundingClientRect().right > doc.clientWidth + 0.5)
    .map((el) => el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).split(' ')[0] : ''))
    .slice(0, 5);
  return [`page is ${doc.scrollWidth}px wide in a ${doc.clientWidth}px window (${wide.join(', ')})`];
}"""

# Marks every control that should take keyboard focus (radio groups count once) with data-kbd, and
# returns their keys.
MARK_CONTROLS_JS = (
    "() => {"
    + _VISIBLE
    + """
  const keys = [];
  const controls = document.querySelectorAll(
    'a[href], button, input:not([type="hidden"]), select, textarea, [tabindex]:not([tabindex="-1"])');
  controls.forEach((el, index) => {
    if (el.closest('[aria-hidden="true"]') || el.tabIndex < 0 || el.disabled) return;
    const choice = el.type === 'radio' || el.type === 'checkbox';
    if (!choice && !shown(el) && !el.classList.contains('skip-link')) return;
    const key = el.type === 'radio' ? `radio:${el.name}` : `${el.tagName.toLowerCase()}#${el.id || index}`;
    el.dataset.kbd = key;
    if (!keys.includes(key)) keys.push(key);
  });
  return keys;
}"""
)

# The focused element's look, focused and not: outline, shadow, colours and borders of the element and,
# for a radio or checkbox (drawn by its label), of the label and the label's ::before box.
# ``known``: keys already measured; for those only the key is returned (blurring and focusing again would
# send a date box back to its first part, and Tab would never leave it).
FOCUS_JS = """(known) => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const key = el.dataset.kbd || `${el.tagName.toLowerCase()}#${el.id}`;
  if (known.includes(key)) return {key: key, changes: [], name: ''};
  const props = ['outline-style', 'outline-width', 'outline-color', 'box-shadow', 'background-color', 'color',
                 'border-top-color', 'border-top-width', 'text-decoration-line'];
  const parts = () => {
    const boxes = [[el, null]];
    if ((el.type === 'radio' || el.type === 'checkbox') && el.labels && el.labels[0]) {
      boxes.push([el.labels[0], null], [el.labels[0], '::before']);
    }
    return boxes.map(([box, pseudo]) => {
      const style = getComputedStyle(box, pseudo);
      return Object.fromEntries(props.map((p) => [p, style.getPropertyValue(p)]));
    });
  };
  const focused = parts();
  el.blur();
  const unfocused = parts();
  el.focus();
  const changes = [];
  focused.forEach((box, i) => {
    for (const p of props) {
      if (box[p] === unfocused[i][p]) continue;
      if (p.startsWith('outline') && (box['outline-style'] === 'none' || parseFloat(box['outline-width']) < 2
          || /rgba\\([^)]*,\\s*0\\)|transparent/.test(box['outline-color']))) continue;
      changes.push(p);
    }
  });
  return {key: key, changes: changes,
          name: (el.textContent || el.value || el.id || '').trim().slice(0, 40)};
}"""
