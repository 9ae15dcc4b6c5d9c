// Small DOM helpers: typed lookups of the page's elements, field errors, copy to clipboard.

export function el(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (!found) throw new Error(`page element #${id} is missing`);
  return found;
}

export function field(id: string): HTMLInputElement {
  return el(id) as HTMLInputElement;
}

export function button(id: string): HTMLButtonElement {
  return el(id) as HTMLButtonElement;
}

/** Shows `message` under a field (empty clears it) and marks the field invalid. */
export function setFieldError(errorEl: HTMLElement, input: HTMLInputElement | null, message: string): void {
  errorEl.textContent = message;
  if (input) {
    if (message) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  }
}

/** Sets a status element's text and its `data-state` (styling and tests read it). */
export function setStatus(target: HTMLElement, state: string, text: string): void {
  target.dataset.state = state;
  target.textContent = text;
}

/** Copies `text`, saying on the button whether it worked. */
export async function copyText(text: string, trigger: HTMLButtonElement): Promise<void> {
  const label = trigger.dataset.label ?? trigger.textContent ?? 'Copy';
  trigger.dataset.label = label;
  try {
    await navigator.clipboard.writeText(text);
    trigger.textContent = 'Copied';
  } catch {
    trigger.textContent = 'Copy failed: select the text and copy it';
  }
  window.setTimeout(() => {
    trigger.textContent = label;
  }, 2000);
}
