// The visual rule builder: groups of conditions (all / any / none of), each a field from the
// catalogue (GET /v1/rules/fields), an operator that fits its type and a value. It reads and
// writes the JSON Logic of a textarea (the JSON view), so the two views round-trip; a rule it
// cannot show stays in the JSON view. Reusable: any page mounts it on an element with
//   <div data-rule-builder data-target="<textarea id>" data-scope="segment|offer|trigger|journey"
//        data-event-input="<name of the event select>" data-count="1"></div>
// or from script with OfferflowRuleBuilder.mount(element, options).
(() => {
  const csrf = () => document.body.dataset.csrf || '';
  const CMP = ['==', '!=', '>', '>=', '<', '<='];
  const LABELS = {
    '==': 'is',
    '!=': 'is not',
    '>': 'is more than',
    '>=': 'is at least',
    '<': 'is less than',
    '<=': 'is at most',
    in: 'is one of',
    has_any: 'has any of',
    has_all: 'has all of',
    contains: 'contains',
    days_ago_more: 'more than … days ago',
    days_ago_less: 'within the last … days',
  };
  const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  const single = (node) => {
    if (!isObj(node)) return null;
    const keys = Object.keys(node);
    if (keys.length !== 1) return null;
    const raw = node[keys[0]];
    return { op: keys[0], args: Array.isArray(raw) ? raw : [raw] };
  };
  const varOf = (node) => {
    const s = single(node);
    if (s?.op !== 'var' || s.args.length !== 1 || typeof s.args[0] !== 'string') return null;
    return s.args[0];
  };
  const el = (tag, attrs = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c);
    return e;
  };

  // ---- JSON Logic ⇄ model ----
  /** A model node from JSON Logic, or null when the builder cannot show it. */
  function parse(node, depth = 0) {
    if (depth > 20) return null;
    const s = single(node);
    if (!s) return null;
    if (s.op === 'and' || s.op === 'or') {
      const items = s.args.map((a) => parse(a, depth + 1));
      if (items.some((i) => i === null)) return null;
      return { type: 'group', mode: s.op === 'and' ? 'all' : 'any', items };
    }
    if (s.op === '!') {
      const inner = single(s.args[0]);
      if (inner && inner.op === 'or') {
        const g = parse(s.args[0], depth + 1);
        if (g) return { ...g, mode: 'none' };
      }
      return null;
    }
    if (s.op === 'purchased_in' && s.args.length === 2)
      return { type: 'cond', op: 'purchased_in', args: [s.args[0], s.args[1]] };
    if ((s.op === 'has_any' || s.op === 'has_all') && s.args.length === 2 && varOf(s.args[0]))
      return { type: 'cond', field: varOf(s.args[0]), cmp: s.op, value: s.args[1] };
    if (s.op === 'in' && s.args.length === 2) {
      if (varOf(s.args[0]) && Array.isArray(s.args[1]))
        return { type: 'cond', field: varOf(s.args[0]), cmp: 'in', value: s.args[1] };
      if (typeof s.args[0] === 'string' && varOf(s.args[1]))
        return { type: 'cond', field: varOf(s.args[1]), cmp: 'contains', value: s.args[0] };
      return null;
    }
    if (CMP.includes(s.op) && s.args.length === 2) {
      const [a, b] = s.args;
      if (isObj(b) || Array.isArray(b)) return null;
      const field = varOf(a);
      if (field) return { type: 'cond', field, cmp: s.op, value: b };
      const inner = single(a);
      if (inner && inner.op === 'spent_in' && inner.args.length === 2)
        return { type: 'cond', op: 'spent_in', args: inner.args, cmp: s.op, value: b };
      if (inner && inner.op === 'days_since' && varOf(inner.args[0]) && (s.op === '>' || s.op === '<='))
        return {
          type: 'cond',
          field: varOf(inner.args[0]),
          cmp: s.op === '>' ? 'days_ago_more' : 'days_ago_less',
          value: b,
        };
    }
    return null;
  }

  function serialize(node) {
    if (node.type === 'group') {
      // Conditions with no field chosen yet stay on screen but are not part of the rule.
      const items = node.items.filter((i) => i.type === 'group' || i.field || i.op).map(serialize);
      if (node.mode === 'all') return { and: items };
      if (node.mode === 'any') return { or: items };
      return { '!': { or: items } };
    }
    if (node.op === 'purchased_in') return { purchased_in: [node.args[0], node.args[1] ?? null] };
    if (node.op === 'spent_in')
      return { [node.cmp || '>']: [{ spent_in: [node.args[0], node.args[1] ?? null] }, node.value] };
    const v = { var: node.field };
    if (node.cmp === 'days_ago_more') return { '>': [{ days_since: v }, node.value] };
    if (node.cmp === 'days_ago_less') return { '<=': [{ days_since: v }, node.value] };
    if (node.cmp === 'contains') return { in: [node.value, v] };
    return { [node.cmp]: [v, node.value] };
  }

  // ---- the component ----
  function mount(root, options) {
    const target = options.target;
    const state = { catalogue: null, model: null, byPath: new Map(), keyed: [], timer: 0, seq: 0 };
    const builder = el('div', { class: 'rb-tree' });
    const notice = el('p', { class: 'rb-notice muted', hidden: true });
    const warnings = el('ul', { class: 'rb-warnings', 'data-builder-warnings': true, 'aria-live': 'polite' });
    const count = el('output', { class: 'rb-count', 'data-builder-count': true, 'aria-live': 'polite' });
    const sample = el('ol', { class: 'rb-sample', 'data-builder-sample': true });
    const toggle = el(
      'button',
      {
        type: 'button',
        class: 'secondary rb-toggle',
        onclick: () => showJson(target.hidden),
      },
      'JSON view',
    );
    root.replaceChildren(
      el('div', { class: 'rb-head' }, el('strong', {}, 'Rule builder'), toggle),
      notice,
      builder,
      warnings,
      options.count ? el('div', { class: 'rb-live' }, count, sample) : null,
    );
    root.classList.add('rule-builder');

    const scope = () => options.scope || 'segment';
    const eventName = () => (options.eventInput ? options.eventInput.value : '');

    function showJson(on) {
      target.hidden = !on;
      target.closest('.field')?.classList.toggle('rb-json-hidden', !on);
      toggle.textContent = on ? 'Hide JSON' : 'JSON view';
    }

    async function loadCatalogue() {
      const q = new URLSearchParams({ for: scope() });
      if (scope() === 'trigger' && eventName()) q.set('event', eventName());
      const res = await fetch(`/ui/rules/fields?${q}`, { credentials: 'same-origin' });
      if (!res.ok) return;
      state.catalogue = await res.json();
      state.byPath = new Map(state.catalogue.fields.map((f) => [f.path, f]));
      state.keyed = state.catalogue.fields.filter((f) => f.keyed);
      fromJson();
    }

    /** The field of a path (a keyed one like spend_by_category.garden, with its key). */
    function fieldOf(path) {
      const exact = state.byPath.get(path);
      if (exact) return { field: exact };
      for (const f of state.keyed)
        if (path.startsWith(`${f.path}.`)) return { field: f, key: path.slice(f.path.length + 1) };
      return null;
    }

    function fromJson() {
      const text = target.value.trim();
      let rule;
      try {
        rule = text && text !== 'true' ? JSON.parse(text) : { and: [] };
      } catch {
        return unshowable('The JSON is not valid; fix it in the JSON view.');
      }
      let model = parse(rule);
      if (model && model.type !== 'group') model = { type: 'group', mode: 'all', items: [model] };
      if (!model) return unshowable('The builder cannot show this rule: edit it in the JSON view.');
      notice.hidden = true;
      builder.hidden = false;
      state.model = model;
      render();
      refresh();
    }

    function unshowable(message) {
      notice.textContent = message;
      notice.hidden = false;
      builder.hidden = true;
      showJson(true);
      refresh();
    }

    /** Writes the model to the JSON view, adding the consent a sensitive field needs. */
    function write() {
      let rule = serialize(state.model);
      const requires = [];
      const walk = (n) => {
        if (n.type === 'group') return n.items.forEach(walk);
        const f = n.field && fieldOf(n.field);
        if (f?.field.requires) requires.push(f.field.requires);
      };
      walk(state.model);
      const missing = requires.filter(
        (r, i) =>
          requires.findIndex((x) => JSON.stringify(x) === JSON.stringify(r)) === i &&
          !(rule.and || []).some((x) => JSON.stringify(x) === JSON.stringify(r)),
      );
      if (missing.length) {
        // Into the model itself: the rows on screen keep editing the same condition objects.
        const consents = missing.map((r) => parse(r));
        if (state.model.mode === 'all') state.model.items.unshift(...consents);
        else state.model = { type: 'group', mode: 'all', items: [...consents, state.model] };
        rule = serialize(state.model);
        // Shown once the marketer leaves the field they are typing in (a redraw would take its focus).
        state.needsRender = true;
      }
      // No condition: everyone (a segment needs a rule: `true`; an offer or filter: none).
      const empty = rule.and && rule.and.length === 0;
      target.value = empty
        ? scope() === 'offer' || scope() === 'trigger'
          ? ''
          : 'true'
        : JSON.stringify(rule, null, 2);
      refresh();
    }

    function refresh() {
      clearTimeout(state.timer);
      state.timer = setTimeout(preview, 350);
    }

    async function preview() {
      let rule;
      try {
        rule = target.value.trim() ? JSON.parse(target.value) : true;
      } catch {
        return;
      }
      const seq = ++state.seq;
      const res = await fetch('/ui/rules/preview', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', 'x-csrf-token': csrf() },
        body: JSON.stringify({
          rule,
          for: scope(),
          event: eventName() || undefined,
          count: Boolean(options.count),
        }),
      });
      if (seq !== state.seq) return; // a newer rule is being counted
      const body = await res.json().catch(() => ({}));
      warnings.replaceChildren(
        ...(body.errors || []).map((e) => el('li', { class: 'error' }, `${e.path}: ${e.message}`)),
        ...(body.warnings || []).map((w) =>
          el('li', { class: 'warning', 'data-path': w.path }, `⚠ ${w.message}`),
        ),
      );
      if (!options.count) return;
      if (typeof body.count !== 'number') {
        count.textContent = '';
        sample.replaceChildren();
        return;
      }
      count.replaceChildren(
        el('strong', { 'data-count': body.count }, body.count.toLocaleString('en-GB')),
        ' customers match',
      );
      sample.replaceChildren(
        ...(body.sample || []).map((c) =>
          el(
            'li',
            {},
            el(
              'a',
              { href: `/ui/customers/${c.id}` },
              [c.first_name, c.last_name].filter(Boolean).join(' ') || c.email || c.external_id,
            ),
            ' ',
            el('span', { class: 'muted' }, (c.why || []).join('; ')),
          ),
        ),
      );
    }

    // ---- rendering ----
    function fieldSelect(node) {
      const select = el('select', { 'aria-label': 'Field', class: 'rb-field' });
      select.append(el('option', { value: '' }, 'Choose…'));
      const groups = new Map();
      for (const f of state.catalogue.fields) {
        if (f.type === 'object' || f.type === 'array') continue;
        if (!groups.has(f.group)) groups.set(f.group, []);
        groups.get(f.group).push(f);
      }
      const current = node.op
        ? `o:${node.op}`
        : node.field
          ? `f:${fieldOf(node.field)?.field.path ?? node.field}`
          : '';
      const ops = state.catalogue.operators.filter((o) => o.op === 'purchased_in' || o.op === 'spent_in');
      if (ops.length) {
        const og = el('optgroup', { label: 'Conditions' });
        for (const o of ops)
          og.append(el('option', { value: `o:${o.op}`, selected: current === `o:${o.op}` }, o.label));
        select.append(og);
      }
      for (const [label, fields] of groups) {
        const og = el('optgroup', { label });
        for (const f of fields)
          og.append(
            el(
              'option',
              { value: `f:${f.path}`, selected: current === `f:${f.path}` },
              f.sensitive ? `${f.label} (sensitive)` : f.label,
            ),
          );
        select.append(og);
      }
      if (node.field && !fieldOf(node.field)) {
        select.append(
          el('option', { value: `f:${node.field}`, selected: true }, `${node.field} (unknown field)`),
        );
      }
      select.addEventListener('change', () => {
        const v = select.value;
        for (const k of ['field', 'op', 'args', 'cmp', 'value']) delete node[k];
        if (v.startsWith('o:')) {
          node.op = v.slice(2);
          node.args = ['', 90];
          if (node.op === 'spent_in') {
            node.cmp = '>';
            node.value = 0;
          }
        } else if (v.startsWith('f:')) {
          const f = state.byPath.get(v.slice(2));
          node.field = f?.keyed ? `${f.path}.${f.values?.[0]?.value ?? ''}` : v.slice(2);
          const type = f?.type ?? 'string';
          node.cmp = (state.catalogue.type_operators[type] || ['=='])[0];
          node.value = defaultValue(type, node.cmp);
        }
        render();
        write();
      });
      return select;
    }

    function defaultValue(type, cmp) {
      if (cmp === 'in' || cmp === 'has_any' || cmp === 'has_all') return [];
      if (type === 'number' || type === 'date') return 0;
      if (type === 'boolean') return true;
      return '';
    }

    const datalist = (values, id) =>
      el(
        'datalist',
        { id },
        ...(values || []).map((v) => el('option', { value: v.value }, `${v.value} (${v.count})`)),
      );

    let listSeq = 0;
    function textInput(label, value, values, onchange, type = 'text') {
      const id = values ? `rb-list-${++listSeq}` : undefined;
      const input = el('input', {
        type,
        'aria-label': label,
        value: value ?? '',
        list: id,
        class: 'rb-value',
      });
      input.addEventListener('input', () => onchange(input.value));
      return values ? [input, datalist(values, id)] : [input];
    }

    function categoryValues() {
      return state.byPath.get('categories_bought')?.values || [];
    }

    function condition(node, parent) {
      const row = el('div', { class: 'rb-cond', role: 'group', 'aria-label': 'Condition' });
      row.append(fieldSelect(node));
      if (node.op === 'purchased_in' || node.op === 'spent_in') {
        row.append(
          el('span', {}, node.op === 'purchased_in' ? 'bought in' : 'spent in'),
          ...textInput('Category', node.args[0], categoryValues(), (v) => {
            node.args[0] = v;
            write();
          }),
          el('span', {}, 'in the last'),
          ...textInput(
            'Days',
            node.args[1] ?? '',
            null,
            (v) => {
              node.args[1] = v === '' ? null : Number(v);
              write();
            },
            'number',
          ),
          el('span', {}, 'days'),
        );
        if (node.op === 'spent_in') {
          row.append(cmpSelect(node, CMP), ...numberValue(node));
        }
      } else if (node.field) {
        const found = fieldOf(node.field);
        const f = found?.field;
        const type = f?.type ?? (typeof node.value === 'number' ? 'number' : 'string');
        if (f?.keyed) {
          row.append(
            ...textInput('Key', found.key, f.values, (v) => {
              node.field = `${f.path}.${v}`;
              write();
            }),
          );
        }
        const ops = state.catalogue.type_operators[type] || CMP;
        row.append(cmpSelect(node, ops.includes(node.cmp) ? ops : [...ops, node.cmp]));
        if (node.cmp === 'in' || node.cmp === 'has_any' || node.cmp === 'has_all') {
          row.append(
            ...textInput('Values (comma-separated)', (node.value || []).join(', '), f?.values, (v) => {
              node.value = v
                .split(',')
                .map((x) => x.trim())
                .filter(Boolean);
              write();
            }),
          );
        } else if (type === 'boolean') {
          const sel = el(
            'select',
            { 'aria-label': 'Value' },
            el('option', { value: 'true', selected: node.value === true }, 'true'),
            el('option', { value: 'false', selected: node.value === false }, 'false'),
          );
          sel.addEventListener('change', () => {
            node.value = sel.value === 'true';
            write();
          });
          row.append(sel);
        } else if (type === 'number' || type === 'date') {
          row.append(...numberValue(node));
        } else {
          row.append(
            ...textInput('Value', node.value, f?.values, (v) => {
              node.value = v;
              write();
            }),
          );
        }
        if (f?.sensitive) row.append(el('small', { class: 'hint' }, `needs consent: ${f.purpose}`));
      }
      row.append(
        el(
          'button',
          {
            type: 'button',
            class: 'link rb-remove',
            'aria-label': 'Remove condition',
            onclick: () => {
              parent.items.splice(parent.items.indexOf(node), 1);
              render();
              write();
            },
          },
          '×',
        ),
      );
      return row;
    }

    function numberValue(node) {
      // A string kept as typed (a warning says so), a number otherwise.
      return textInput(
        'Value',
        node.value,
        null,
        (v) => {
          node.value = v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
          write();
        },
        typeof node.value === 'string' && node.value !== '' && !Number.isFinite(Number(node.value))
          ? 'text'
          : 'number',
      );
    }

    function cmpSelect(node, ops) {
      const sel = el('select', { 'aria-label': 'Operator', class: 'rb-op' });
      for (const op of ops)
        sel.append(el('option', { value: op, selected: node.cmp === op }, LABELS[op] || op));
      sel.addEventListener('change', () => {
        const wasList = Array.isArray(node.value);
        node.cmp = sel.value;
        const isList = ['in', 'has_any', 'has_all'].includes(node.cmp);
        if (isList && !wasList)
          node.value = node.value === '' || node.value === undefined ? [] : [String(node.value)];
        if (!isList && wasList) node.value = node.value[0] ?? '';
        render();
        write();
      });
      return sel;
    }

    function group(node, parent) {
      const box = el('div', { class: 'rb-group', role: 'group', 'aria-label': 'Group' });
      const mode = el(
        'select',
        { 'aria-label': 'Match', class: 'rb-mode' },
        ...['all', 'any', 'none'].map((m) =>
          el('option', { value: m, selected: node.mode === m }, `${m} of`),
        ),
      );
      mode.addEventListener('change', () => {
        node.mode = mode.value;
        write();
      });
      box.append(el('div', { class: 'rb-group-head' }, 'Customers who match ', mode, ' these conditions'));
      for (const item of node.items)
        box.append(item.type === 'group' ? group(item, node) : condition(item, node));
      box.append(
        el(
          'div',
          { class: 'rb-actions' },
          el(
            'button',
            {
              type: 'button',
              class: 'secondary',
              onclick: () => {
                node.items.push({ type: 'cond' });
                render();
              },
            },
            'Add condition',
          ),
          el(
            'button',
            {
              type: 'button',
              class: 'secondary',
              onclick: () => {
                node.items.push({ type: 'group', mode: 'any', items: [{ type: 'cond' }] });
                render();
              },
            },
            'Add group',
          ),
          parent
            ? el(
                'button',
                {
                  type: 'button',
                  class: 'link',
                  onclick: () => {
                    parent.items.splice(parent.items.indexOf(node), 1);
                    render();
                    write();
                  },
                },
                'Remove group',
              )
            : null,
        ),
      );
      return box;
    }

    function render() {
      if (!state.catalogue || !state.model) return;
      builder.replaceChildren(group(state.model, null));
    }

    builder.addEventListener('focusout', () => {
      if (!state.needsRender) return;
      state.needsRender = false;
      setTimeout(render, 0);
    });
    target.addEventListener('input', () => {
      clearTimeout(state.parseTimer);
      state.parseTimer = setTimeout(fromJson, 300);
    });
    options.eventInput?.addEventListener('change', loadCatalogue);
    showJson(true);
    loadCatalogue();
    return { refresh: fromJson };
  }

  window.OfferflowRuleBuilder = { mount, parse, serialize };
  const start = () => {
    for (const root of document.querySelectorAll('[data-rule-builder]')) {
      if (root.dataset.mounted) continue;
      root.dataset.mounted = '1';
      const target = document.getElementById(root.dataset.target);
      if (!target) continue;
      const form = root.closest('form');
      mount(root, {
        target,
        scope: root.dataset.scope,
        count: root.dataset.count === '1',
        eventInput: root.dataset.eventInput ? form?.elements[root.dataset.eventInput] : undefined,
      });
    }
  };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
