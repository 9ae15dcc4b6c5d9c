// The QR code of the deposit address, drawn as SVG elements (no inline markup or styles, so
// the page's Content Security Policy stays strict).

import qrcode from 'qrcode-generator';

const SVG = 'http://www.w3.org/2000/svg';

/**
 * Draws `text` as a QR code into `target`. A bech32 address is encoded in upper case, which
 * QR's alphanumeric mode stores in fewer modules (wallets read either case).
 */
export function drawQr(target: HTMLElement, text: string): void {
  const upper = /^[a-z0-9]+1[a-z0-9]+$/.test(text) ? text.toUpperCase() : text;
  const code = qrcode(0, 'M');
  code.addData(upper, /^[0-9A-Z $%*+\-./:]+$/.test(upper) ? 'Alphanumeric' : 'Byte');
  code.make();
  const n = code.getModuleCount();
  const margin = 4;
  const size = n + margin * 2;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${size} ${size}`);
  svg.setAttribute('shape-rendering', 'crispEdges');
  svg.setAttribute('aria-hidden', 'true');
  const background = document.createElementNS(SVG, 'rect');
  background.setAttribute('width', String(size));
  background.setAttribute('height', String(size));
  background.setAttribute('fill', '#fff');
  svg.appendChild(background);
  let d = '';
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      if (code.isDark(r, c)) d += `M${c + margin} ${r + margin}h1v1h-1z`;
    }
  }
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', d);
  path.setAttribute('fill', '#000');
  svg.appendChild(path);
  target.replaceChildren(svg);
  target.dataset.text = text;
}
