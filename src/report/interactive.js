// wabench report charts: a crosshair and tooltip with each series' value where the pointer is, and
// legend entries that hide and show their series. Reads the JSON beside each chart; fetches nothing.
// With #selftest in the address it hovers and toggles each chart itself and writes what it saw into
// a pre element with the id wb-selftest.
(function () {
  'use strict';

  function fmtVal(v) {
    if (v === null || v === undefined) return '\u2013';
    if (Array.isArray(v)) return v[0] === v[1] ? String(v[0]) : v[0] + '\u2013' + v[1];
    return String(v);
  }
  function high(v) {
    return Array.isArray(v) ? v[1] : v;
  }
  function percentile(x) {
    var d = Math.min(6, Math.max(1, Math.ceil(x - 1e-9) - 1));
    return (100 * (1 - Math.pow(10, -x))).toFixed(d) + '%';
  }
  // Index of the point of `pts` (sorted by x) nearest to x.
  function nearest(pts, x) {
    var lo = 0, hi = pts.length - 1;
    while (hi - lo > 1) {
      var mid = (lo + hi) >> 1;
      if (pts[mid][0] < x) lo = mid; else hi = mid;
    }
    return Math.abs(pts[lo][0] - x) <= Math.abs(pts[hi][0] - x) ? lo : hi;
  }
  function at(pts, x) {
    if (!pts.length) return undefined;
    var i = nearest(pts, x);
    return Math.abs(pts[i][0] - x) < 1e-9 ? i : undefined;
  }

  function Chart(fig, svg, d) {
    var self = this, ns = svg.namespaceURI, hidden = {}, last = null;
    self.fig = fig; self.svg = svg; self.d = d;
    var tip = document.createElement('div');
    tip.className = 'wb-tip';
    tip.hidden = true;
    fig.appendChild(tip);
    self.tip = tip;
    var cross = document.createElementNS(ns, 'line');
    cross.setAttribute('class', 'wb-cross');
    cross.style.display = 'none';
    svg.appendChild(cross);
    var dots = document.createElementNS(ns, 'g');
    dots.setAttribute('class', 'wb-dots');
    svg.appendChild(dots);

    function toSvg(cx, cy) {
      var m = svg.getScreenCTM();
      if (!m) return null;
      var pt = svg.createSVGPoint();
      pt.x = cx; pt.y = cy;
      return pt.matrixTransform(m.inverse());
    }
    self.toClient = function (x, y) {
      var pt = svg.createSVGPoint();
      pt.x = x; pt.y = y;
      return pt.matrixTransform(svg.getScreenCTM());
    };
    self.pixelX = function (panel, x) {
      var b = panel.box, span = panel.x[1] - panel.x[0] || 1;
      return b[0] + (x - panel.x[0]) / span * (b[2] - b[0]);
    };
    function pixelY(panel, s, v) {
      var r = s.axis === 'right' && panel.y2 ? panel.y2 : panel.y, b = panel.box, span = r[1] - r[0] || 1;
      return b[3] - (v - r[0]) / span * (b[3] - b[1]);
    }
    function panelAt(p) {
      for (var i = 0; i < d.panels.length; i++) {
        var b = d.panels[i].box;
        if (p.x >= b[0] - 4 && p.x <= b[2] + 4 && p.y >= b[1] && p.y <= b[3]) return d.panels[i];
      }
      return null;
    }
    function hide() {
      tip.hidden = true;
      cross.style.display = 'none';
      while (dots.firstChild) dots.removeChild(dots.firstChild);
    }
    function header(x) {
      if (d.axis === 'nines') return 'percentile ' + percentile(x);
      return d.every > 1 ? 't = ' + x + '\u2013' + (x + d.every - 1) + ' s' : 't = ' + x + ' s';
    }
    function show(cx, cy) {
      last = [cx, cy];
      var p = toSvg(cx, cy), panel = p && panelAt(p);
      if (!panel) { hide(); return; }
      var span = panel.box[2] - panel.box[0] || 1;
      var x = panel.x[0] + (p.x - panel.box[0]) / span * (panel.x[1] - panel.x[0]);
      var best = null;
      panel.series.forEach(function (s) {
        if (hidden[s.id] || !s.p.length) return;
        var sx = s.p[nearest(s.p, x)][0];
        if (best === null || Math.abs(sx - x) < Math.abs(best - x)) best = sx;
      });
      if (best === null) { hide(); return; }
      while (tip.firstChild) tip.removeChild(tip.firstChild);
      while (dots.firstChild) dots.removeChild(dots.firstChild);
      var h = document.createElement('div');
      h.className = 'wb-h';
      h.textContent = (panel.title ? panel.title + ': ' : '') + header(best);
      tip.appendChild(h);
      var px = self.pixelX(panel, best), acc = 0;
      panel.series.forEach(function (s) {
        var i = at(s.p, best), v = i === undefined ? null : s.p[i][1];
        // A hidden layer of a stacked chart keeps its place: the layers above do not move down.
        var top = panel.stacked ? (acc += v === null ? 0 : high(v)) : high(v);
        if (hidden[s.id]) return;
        var row = document.createElement('div'), sw = document.createElement('i');
        sw.style.background = s.color;
        row.appendChild(sw);
        var max = s.lastIsMax && i === s.p.length - 1 ? ' (max)' : '';
        row.appendChild(document.createTextNode(s.label + ': ' + fmtVal(v) + (v !== null && s.unit ? ' ' + s.unit : '') + max));
        tip.appendChild(row);
        if (v === null) return;
        var dot = document.createElementNS(ns, 'circle');
        dot.setAttribute('cx', px); dot.setAttribute('cy', pixelY(panel, s, top)); dot.setAttribute('r', 3.5);
        dot.setAttribute('fill', s.color); dot.setAttribute('stroke', '#fff');
        dots.appendChild(dot);
      });
      cross.setAttribute('x1', px); cross.setAttribute('x2', px);
      cross.setAttribute('y1', panel.box[1]); cross.setAttribute('y2', panel.box[3]);
      cross.style.display = '';
      tip.hidden = false;
      var fr = fig.getBoundingClientRect(), left = cx - fr.left + 14;
      if (left + tip.offsetWidth > fig.clientWidth) left = Math.max(0, cx - fr.left - 14 - tip.offsetWidth);
      tip.style.left = left + 'px';
      tip.style.top = (cy - fr.top + 14) + 'px';
    }
    self.show = show;
    svg.addEventListener('pointermove', function (e) { show(e.clientX, e.clientY); });
    svg.addEventListener('pointerdown', function (e) { show(e.clientX, e.clientY); });
    svg.addEventListener('pointerleave', function () { last = null; hide(); });

    self.groups = function (id) {
      return Array.prototype.slice.call(svg.querySelectorAll('g.wb-series[data-series="' + id + '"]'));
    };
    self.key = function (id) {
      return svg.querySelector('g.wb-key[data-series="' + id + '"]');
    };
    function toggle(id) {
      hidden[id] = !hidden[id];
      self.groups(id).forEach(function (g) { g.style.display = hidden[id] ? 'none' : ''; });
      var k = self.key(id);
      if (k) {
        k.classList.toggle('wb-off', !!hidden[id]);
        k.setAttribute('aria-pressed', hidden[id] ? 'false' : 'true');
      }
      if (last) show(last[0], last[1]);
    }
    Array.prototype.forEach.call(svg.querySelectorAll('g.wb-key'), function (k) {
      var id = k.getAttribute('data-series');
      // A transparent box over the entry, so that the gaps between its line and label click too.
      try {
        var bb = k.getBBox(), hit = document.createElementNS(ns, 'rect');
        hit.setAttribute('class', 'wb-hit');
        hit.setAttribute('x', bb.x - 3); hit.setAttribute('y', bb.y - 3);
        hit.setAttribute('width', bb.width + 6); hit.setAttribute('height', bb.height + 6);
        k.insertBefore(hit, k.firstChild);
      } catch (e) {
        // Not laid out (a hidden or printed page): the line and label still click.
      }
      k.setAttribute('tabindex', '0');
      k.setAttribute('role', 'button');
      k.setAttribute('aria-pressed', 'true');
      k.addEventListener('click', function () { toggle(id); });
      k.addEventListener('keydown', function (e) {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); toggle(id); }
      });
    });
    var hint = fig.querySelector('p.wb-hint');
    if (hint) hint.hidden = false;
  }

  var charts = [];
  Array.prototype.forEach.call(document.querySelectorAll('figure'), function (fig) {
    var svg = fig.querySelector('svg'), node = fig.querySelector('script.wb-data');
    if (!svg || !node) return;
    try {
      charts.push(new Chart(fig, svg, JSON.parse(node.textContent)));
    } catch (e) {
      // A chart whose data cannot be read stays static.
    }
  });

  function tipLines(c) {
    return c.tip.hidden ? [] : Array.prototype.map.call(c.tip.children, function (r) { return r.textContent; });
  }
  function displays(gs) {
    return gs.map(function (g) { return getComputedStyle(g).display; });
  }
  // Hover the middle point of each chart's longest series, hide that series with its legend entry,
  // hover again, show it again; record the tooltip and the series' display each time.
  function selftest() {
    var out = charts.map(function (c) {
      var r = { stem: c.d.stem }, panel = c.d.panels[0];
      if (!panel || !panel.series.length) return r;
      var s = panel.series[0];
      panel.series.forEach(function (t) { if (t.p.length > s.p.length) s = t; });
      var x = s.p[Math.floor(s.p.length / 2)][0];
      var pt = c.toClient(c.pixelX(panel, x), (panel.box[1] + panel.box[3]) / 2);
      var move = function () {
        c.svg.dispatchEvent(new PointerEvent('pointermove', { clientX: pt.x, clientY: pt.y, bubbles: true }));
      };
      r.series = s.id; r.label = s.label; r.x = x;
      move();
      r.before = tipLines(c);
      var others = [];
      c.d.legend.forEach(function (l) { if (l.id !== s.id) others = others.concat(c.groups(l.id)); });
      var key = c.key(s.id);
      r.key = !!key;
      if (!key) return r;
      key.dispatchEvent(new MouseEvent('click', { bubbles: true }));
      r.pressed = key.getAttribute('aria-pressed');
      r.hidden = displays(c.groups(s.id));
      r.others = displays(others);
      move();
      r.after = tipLines(c);
      key.dispatchEvent(new MouseEvent('click', { bubbles: true }));
      r.restored = displays(c.groups(s.id));
      c.svg.dispatchEvent(new PointerEvent('pointerleave', {}));
      return r;
    });
    var pre = document.createElement('pre');
    pre.id = 'wb-selftest';
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }
  if (location.hash === '#selftest') selftest();
})();
