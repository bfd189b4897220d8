// The block email editor on the template page: GrapesJS with its MJML plugin (served from
// node_modules by /ui/vendor, no CDN), our own blocks (offers, the reusable partials), desktop
// and phone views. It edits the MJML of the code view (a textarea) and writes back to it on every
// change, so saving, the preview and the test-send read what the editor shows; an edit in the
// code view is loaded back into the editor when the textarea loses focus.
//   <div data-email-editor data-target="<textarea id>" data-blocks="<JSON list>"></div>
(() => {
  const load = (tag, attrs) =>
    new Promise((resolve, reject) => {
      const el = document.createElement(tag);
      Object.assign(el, attrs);
      el.onload = resolve;
      el.onerror = reject;
      document.head.append(el);
    });

  /**
   * GrapesJS writes text as HTML, so `{{> offers}}` comes out as `{{&gt; offers}}`: Handlebars
   * expressions get their characters back before the MJML leaves the editor.
   */
  const ENTITIES = { '&gt;': '>', '&lt;': '<', '&quot;': '"', '&#039;': "'", '&#39;': "'", '&amp;': '&' };
  const restoreExpressions = (mjml) =>
    mjml.replace(/\{\{\{?[\s\S]*?\}\}\}?/g, (expr) =>
      expr.replace(/&(gt|lt|quot|#0?39|amp);/g, (e) => ENTITIES[e]),
    );

  const SECTION_LEVEL = /^\s*<mj-(section|wrapper|hero|raw)\b/;
  /** Adds a block's content to mj-body; a column-level block (text, button…) gets a section of its own. */
  function appendBlock(editor, block) {
    let content = block.get('content');
    if (typeof content === 'string' && !SECTION_LEVEL.test(content))
      content = `<mj-section><mj-column>${content}</mj-column></mj-section>`;
    const body = editor.getWrapper().findType('mj-body')[0] || editor.getWrapper();
    const selected = editor.getSelected();
    let at;
    let section = selected;
    while (section?.parent() && section.parent() !== body) section = section.parent();
    if (section && section.parent() === body) at = section.index() + 1;
    const added = body.append(content, at === undefined ? {} : { at });
    if (added[0]) editor.select(added[0]);
  }

  async function mount(root) {
    const target = document.getElementById(root.dataset.target);
    if (!target) return;
    await load('link', { rel: 'stylesheet', href: '/ui/vendor/grapes.css' });
    await load('script', { src: '/ui/vendor/grapes.js' });
    await load('script', { src: '/ui/vendor/grapesjs-mjml.js' });
    const mjmlPlugin = window['grapesjs-mjml'].default || window['grapesjs-mjml'];
    const canvas = document.createElement('div');
    canvas.className = 'email-canvas';
    root.append(canvas);
    const editor = window.grapesjs.init({
      container: canvas,
      height: '640px',
      fromElement: false,
      components: target.value,
      storageManager: false,
      // GrapesJS would fetch Font Awesome from a CDN for its panel icons: no network for the UI.
      cssIcons: '',
      // A click adds a block at the end of the email (after the selected section when there is
      // one): the way to build without a mouse drag, and how the browser test builds.
      blockManager: { appendOnClick: (block, ed) => appendBlock(ed, block) },
      plugins: [mjmlPlugin],
      pluginsOpts: { [mjmlPlugin]: { imagePlaceholderSrc: '/ui/static/icon-512.png', resetDevices: true } },
    });
    root.editor = editor;

    const blocks = JSON.parse(root.dataset.blocks || '[]');
    const bm = editor.Blocks;
    bm.add('offerflow-offers', {
      label: 'Offers',
      category: 'Offerflow',
      attributes: { 'data-block': 'offers' },
      content:
        '<mj-section><mj-column><mj-text css-class="offerflow-offers">{{> offers}}</mj-text></mj-column></mj-section>',
    });
    for (const b of blocks) {
      bm.add(`partial-${b.name}`, {
        label: b.description ? `${b.name}: ${b.description}` : b.name,
        category: 'Reusable blocks',
        attributes: { 'data-block': `partial-${b.name}` },
        content: `<mj-wrapper css-class="partial:${b.name}:${b.version}" padding="0px">${b.mjml}</mj-wrapper>`,
      });
    }

    let writing = false;
    const sync = () => {
      writing = true;
      target.value = restoreExpressions(editor.runCommand('mjml-code'));
      // The preview listens for input on the code view.
      target.dispatchEvent(new Event('input', { bubbles: true }));
      writing = false;
    };
    editor.on('update', sync);
    target.addEventListener('change', () => {
      if (writing) return;
      editor.setComponents(target.value);
    });

    // Desktop and phone views of the canvas (the previews below show the rendered mail).
    const bar = document.createElement('div');
    bar.className = 'row email-devices';
    for (const [label, command] of [
      ['Desktop', 'set-device-desktop'],
      ['Phone', 'set-device-mobile'],
    ]) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'secondary';
      button.textContent = label;
      button.dataset.device = label.toLowerCase();
      button.addEventListener('click', () => editor.runCommand(command));
      bar.append(button);
    }
    root.prepend(bar);
    editor.runCommand('open-blocks');
    // What GrapesJS leaves out for screen readers and keyboards: a name for the canvas frame,
    // and a way to reach its scrolling panels without a mouse.
    // GrapesJS makes a new frame on load and on a change of device, so each one is named as it comes.
    const nameFrames = () => {
      for (const frame of canvas.querySelectorAll('iframe')) {
        if (!frame.title) frame.title = 'Email canvas: the email as it will look';
      }
    };
    nameFrames();
    new MutationObserver(nameFrames).observe(canvas, { childList: true, subtree: true });
    for (const panel of canvas.querySelectorAll('.gjs-pn-views-container, .gjs-blocks-c')) {
      panel.tabIndex = 0;
    }
    root.dataset.ready = '1';
  }

  const start = () => {
    for (const root of document.querySelectorAll('[data-email-editor]')) {
      if (root.dataset.mounted) continue;
      root.dataset.mounted = '1';
      mount(root).catch((error) => {
        root.dataset.failed = String(error);
        root.textContent = 'The block editor could not start; edit the MJML below.';
      });
    }
  };
  window.OfferflowEmailEditor = { start, restoreExpressions };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
