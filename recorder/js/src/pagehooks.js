/*
 * Hooks into page APIs that no observer reports: console methods, CSSOM
 * edits, `adoptedStyleSheets`, `attachShadow`, and field values set by
 * script. Installed once per window (the page's, then each same-origin
 * frame's), forwarding to the current recording (no-ops when none). Each
 * wrapper calls the original and returns its result, so the page sees no
 * change.
 */
import { P, defProp, each, getDesc, hasOwn, rApply, then, un } from './builtins.js';
import { currentRecording } from './api.js';
import { busy, enter, leave, warn } from './report.js';

var CONSOLE_LEVELS = ['debug', 'log', 'info', 'warn', 'error'];
var patchedWindows = new WeakSet();

function hook(name, args) {
  var current = currentRecording();
  if (!current || busy()) return;
  enter();
  try {
    current.hook(name, args);
  } catch (e) {
    warn(e);
  }
  leave();
}

function wrapMethod(proto, name, after, before) {
  var orig = proto && hasOwn(proto, name) && proto[name];
  if (typeof orig !== 'function') return;
  proto[name] = function () {
    if (before) before();
    var r = rApply(orig, this, arguments);
    after(this, arguments, r);
    return r;
  };
}

function wrapSetter(proto, name, after) {
  var d = proto && getDesc(proto, name);
  if (!d || !d.set || !d.configurable) return;
  var set = un(d.set);
  defProp(proto, name, {
    configurable: true,
    enumerable: d.enumerable,
    get: d.get,
    set: function (v) {
      set(this, v);
      after(this);
    },
  });
}

export function patchWindow(win) {
  try {
    if (!win || patchedWindows.has(win)) return;
    patchedWindows.add(win);
    var con = win.console;
    if (con) {
      each(CONSOLE_LEVELS, function (level) {
        var orig = con[level];
        if (typeof orig !== 'function') return;
        con[level] = function () {
          hook('console', [level, arguments]);
          return rApply(orig, this, arguments);
        };
      });
    }
    // DOM changes made before a CSSOM edit are recorded before it (a
    // <style> added and filled in one task must exist first, empty).
    var pre = function () {
      hook('pre', []);
    };
    var CSS = win.CSSStyleSheet && win.CSSStyleSheet.prototype;
    wrapMethod(
      CSS,
      'insertRule',
      function (sheet, a, r) {
        hook('sheetInsert', [sheet, null, r]);
      },
      pre,
    );
    wrapMethod(
      CSS,
      'deleteRule',
      function (sheet, a) {
        hook('sheetDelete', [sheet, null, a[0]]);
      },
      pre,
    );
    wrapMethod(
      CSS,
      'replaceSync',
      function (sheet) {
        hook('sheetReplace', [sheet]);
      },
      pre,
    );
    wrapMethod(CSS, 'replace', function (sheet, a, r) {
      if (r instanceof P)
        then(
          r,
          function () {
            hook('sheetReplace', [sheet]);
          },
          function () {},
        );
    });
    var GR = win.CSSGroupingRule && win.CSSGroupingRule.prototype;
    wrapMethod(
      GR,
      'insertRule',
      function (rule, a, r) {
        hook('sheetInsert', [rule.parentStyleSheet, rule, r]);
      },
      pre,
    );
    wrapMethod(
      GR,
      'deleteRule',
      function (rule, a) {
        hook('sheetDelete', [rule.parentStyleSheet, rule, a[0]]);
      },
      pre,
    );
    each([win.Document, win.ShadowRoot], function (C) {
      wrapSetter(C && C.prototype, 'adoptedStyleSheets', function (root) {
        hook('adopt', [root]);
      });
    });
    wrapMethod(win.Element && win.Element.prototype, 'attachShadow', function (host, a, root) {
      hook('shadow', [host, root]);
    });
    // A dialog is the page answering (a click that opens one is not a
    // dead click); told before it blocks.
    each(['alert', 'confirm', 'prompt'], function (name) {
      wrapMethod(
        win,
        name,
        function () {},
        function () {
          hook('dialog', []);
        },
      );
    });
    var fields = [
      ['HTMLInputElement', ['value', 'checked']],
      ['HTMLTextAreaElement', ['value']],
      ['HTMLSelectElement', ['value', 'selectedIndex']],
      ['HTMLOptionElement', ['selected']],
    ];
    each(fields, function (f) {
      var C = win[f[0]];
      each(f[1], function (prop) {
        wrapSetter(C && C.prototype, prop, function (el) {
          hook('field', [el]);
        });
      });
    });
  } catch (e) {
    warn(e);
  }
}
