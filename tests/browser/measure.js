// Measurements taken in the page by tests/test_browser_polish.py, from computed styles.
// `measure(kind, element)`: kind is "contrast" or "overflow".
(() => {
  // A computed colour ("rgb(…)", "rgba(…)", "color(srgb r g b / a)") as [r, g, b, a], 0..255.
  function parse(text) {
    let m = text.match(/^rgba?\(([^)]+)\)$/);
    if (m) {
      const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
      return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    }
    m = text.match(/^color\(srgb ([^)]+)\)$/);
    if (m) {
      const p = m[1].split(/[\s/]+/).filter(Boolean).map(Number);
      return [p[0] * 255, p[1] * 255, p[2] * 255, p.length > 3 ? p[3] : 1];
    }
    throw new Error(`unparsed colour: ${text}`);
  }
  // `top` painted over the opaque `bottom`.
  function over(top, bottom) {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat([1]);
  }
  function luminance(c) {
    const [r, g, b] = c.slice(0, 3).map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }
  // The background the element's text sits on: the backgrounds of it and its ancestors,
  // painted from the first opaque one up; `opacity` on the way dims the text.
  function contrast(element) {
    const layers = [];
    let opacity = 1;
    for (let el = element; el; el = el.parentElement) {
      const style = getComputedStyle(el);
      opacity *= Number(style.opacity);
      const bg = parse(style.backgroundColor);
      if (bg[3] > 0) layers.push(bg);
      if (bg[3] >= 1) break;
    }
    let background = [255, 255, 255, 1];
    for (const layer of layers.reverse()) background = over(layer, background);
    const fg = parse(getComputedStyle(element).color);
    const text = over([fg[0], fg[1], fg[2], fg[3] * opacity], background);
    const [hi, lo] = [luminance(text), luminance(background)].sort((a, b) => b - a);
    return {
      ratio: (hi + 0.05) / (lo + 0.05),
      color: getComputedStyle(element).color,
      background: `rgb(${background.slice(0, 3).map(Math.round).join(", ")})`,
      text: element.innerText.slice(0, 60),
    };
  }
  // Elements inside `root` (itself included) whose content is wider than their box, and
  // boxes that stick out on the right of `root`.
  function overflow(root) {
    const box = root.getBoundingClientRect();
    const wide = [];
    for (const el of [root, ...root.querySelectorAll("*")]) {
      if (el.closest("pre")) continue; // code scrolls sideways inside its block, on purpose
      const style = getComputedStyle(el);
      if (style.display === "none" || el.tagName === "STYLE") continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      const clipped = el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0;
      const sticksOut = r.right > box.right + 1;
      if ((clipped && style.overflowX !== "visible") || sticksOut) {
        wide.push({
          element: `${el.tagName.toLowerCase()}.${String(el.className).slice(0, 60)}`,
          scrollWidth: el.scrollWidth,
          clientWidth: el.clientWidth,
          right: Math.round(r.right),
          rootRight: Math.round(box.right),
        });
      }
    }
    return wide;
  }
  return { contrast, overflow };
})();
