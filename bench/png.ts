/** A tiny raster canvas and PNG encoder (zlib from Node), enough for bar charts with text; no dependencies. */
import { crc32, deflateSync } from 'node:zlib';

export type Color = readonly [number, number, number];

// 5x7 glyphs, one string of 7 rows of 5 bits each (as 2-digit hex per row, high bit = left).
const GLYPHS: Record<string, string> = {
  '0': '0e11131519110e', '1': '040c040404040e', '2': '0e11010204081f', '3': '1f02040201110e',
  '4': '02060a121f0202', '5': '1f1e010101110e', '6': '0608101e11110e', '7': '1f010204080808',
  '8': '0e11110e11110e', '9': '0e11110f01020c', A: '0e11111f111111', B: '1e11111e11111e',
  C: '0e11101010110e', D: '1c12111111121c', E: '1f10101e10101f', F: '1f10101e101010', G: '0e11101713110f',
  H: '1111111f111111', I: '0e04040404040e', J: '0702020202120c', K: '11121418141211', L: '1010101010101f',
  M: '111b1515111111', N: '11111915131111', O: '0e11111111110e', P: '1e11111e101010', Q: '0e111111151209',
  R: '1e11111e141211', S: '0f10100e01011e', T: '1f040404040404', U: '1111111111110e', V: '11111111110a04',
  W: '11111115151b11', X: '11110a040a1111', Y: '11110a04040404', Z: '1f01020408101f', ' ': '00000000000000',
  '.': '0000000000000c', ',': '00000000000c08', ':': '000c0c000c0c00', '-': '0000001f000000',
  '/': '01010204081010', '(': '02040808080402', ')': '08040202020408', '%': '18190204081303', '=': '00001f001f0000',
  '<': '02040810080402', '>': '08040201020408', '+': '0004041f040400', '_': '0000000000001f', '#': '0a0a1f0a1f0a0a',
  '*': '00040a1f0a0400', '@': '0e11010d15150e', '?': '0e110102040004', '!': '04040404040004', "'": '04040800000000',
};

export class Canvas {
  readonly width: number;
  readonly height: number;
  readonly #pixels: Uint8Array;

  constructor(width: number, height: number, background: Color = [255, 255, 255]) {
    this.width = width;
    this.height = height;
    this.#pixels = new Uint8Array(width * height * 3);
    this.fillRect(0, 0, width, height, background);
  }

  setPixel(x: number, y: number, color: Color): void {
    const px = Math.round(x);
    const py = Math.round(y);
    if (px < 0 || py < 0 || px >= this.width || py >= this.height) return;
    const offset = (py * this.width + px) * 3;
    this.#pixels[offset] = color[0];
    this.#pixels[offset + 1] = color[1];
    this.#pixels[offset + 2] = color[2];
  }

  fillRect(x: number, y: number, width: number, height: number, color: Color): void {
    for (let py = Math.round(y); py < Math.round(y + height); py += 1) {
      for (let px = Math.round(x); px < Math.round(x + width); px += 1) this.setPixel(px, py, color);
    }
  }

  line(x0: number, y0: number, x1: number, y1: number, color: Color, dash = 0): void {
    const steps = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
    for (let i = 0; i <= steps; i += 1) {
      if (dash > 0 && Math.floor(i / dash) % 2 === 1) continue;
      this.setPixel(x0 + ((x1 - x0) * i) / steps, y0 + ((y1 - y0) * i) / steps, color);
    }
  }

  /** Draws text in the 5x7 font at `scale`; returns its width. Lower case is drawn as upper case. */
  text(x: number, y: number, value: string, color: Color, scale = 1): number {
    let cursor = x;
    for (const char of value.toUpperCase()) {
      const glyph = GLYPHS[char] ?? GLYPHS['?'] ?? '';
      for (let row = 0; row < 7; row += 1) {
        const bits = Number.parseInt(glyph.slice(row * 2, row * 2 + 2) || '0', 16);
        for (let column = 0; column < 5; column += 1) {
          if ((bits >> (4 - column)) & 1) this.fillRect(cursor + column * scale, y + row * scale, scale, scale, color);
        }
      }
      cursor += 6 * scale;
    }
    return cursor - x;
  }

  static textWidth(value: string, scale = 1): number {
    return value.length * 6 * scale;
  }

  toPng(): Buffer {
    const raw = Buffer.alloc((this.width * 3 + 1) * this.height);
    for (let y = 0; y < this.height; y += 1) {
      raw[y * (this.width * 3 + 1)] = 0;
      raw.set(this.#pixels.subarray(y * this.width * 3, (y + 1) * this.width * 3), y * (this.width * 3 + 1) + 1);
    }
    const chunk = (type: string, data: Buffer): Buffer => {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(data.length);
      const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32(body));
      return Buffer.concat([length, body, crc]);
    };
    const header = Buffer.alloc(13);
    header.writeUInt32BE(this.width, 0);
    header.writeUInt32BE(this.height, 4);
    header[8] = 8;
    header[9] = 2;
    return Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', header),
      chunk('IDAT', deflateSync(raw, { level: 9 })),
      chunk('IEND', Buffer.alloc(0)),
    ]);
  }
}

export interface BarGroup {
  readonly label: string;
  readonly values: ReadonlyArray<number | undefined>;
}

export interface BarPanel {
  readonly title: string;
  readonly unit: string;
  readonly series: ReadonlyArray<{ label: string; color: Color }>;
  readonly groups: readonly BarGroup[];
  readonly target?: { value: number; label: string };
}

const INK: Color = [40, 40, 40];
const GRID: Color = [225, 225, 225];
const TARGET: Color = [200, 30, 30];

function niceMax(value: number): number {
  if (value <= 0 || !Number.isFinite(value)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function formatTick(value: number): string {
  if (value >= 1000) return `${Number((value / 1000).toFixed(1))}K`;
  return String(Number(value.toFixed(2)));
}

/** Grouped bars with value labels, a legend and an optional dashed target line. */
export function drawBarPanel(canvas: Canvas, x: number, y: number, width: number, height: number, panel: BarPanel): void {
  canvas.text(x + 10, y + 8, panel.title, INK, 2);
  let legendX = x + 10;
  for (const series of panel.series) {
    canvas.fillRect(legendX, y + 32, 10, 10, series.color);
    legendX += 14 + canvas.text(legendX + 14, y + 34, series.label, INK) + 12;
  }
  const plot = { left: x + 60, top: y + 56, right: x + width - 12, bottom: y + height - 34 };
  const values = panel.groups.flatMap((g) => g.values.filter((v): v is number => v !== undefined && Number.isFinite(v)));
  const top = niceMax(Math.max(...values, panel.target?.value ?? 0) * 1.08);
  const scaleY = (value: number): number => plot.bottom - ((plot.bottom - plot.top) * value) / top;
  for (let i = 0; i <= 4; i += 1) {
    const value = (top * i) / 4;
    const py = scaleY(value);
    canvas.line(plot.left, py, plot.right, py, GRID);
    const label = formatTick(value);
    canvas.text(plot.left - 6 - Canvas.textWidth(label), py - 3, label, INK);
  }
  canvas.text(x + 4, plot.top - 14, panel.unit, INK);
  canvas.line(plot.left, plot.top, plot.left, plot.bottom, INK);
  canvas.line(plot.left, plot.bottom, plot.right, plot.bottom, INK);
  const groupWidth = (plot.right - plot.left) / Math.max(1, panel.groups.length);
  panel.groups.forEach((group, g) => {
    const barWidth = Math.max(3, Math.floor((groupWidth * 0.8) / Math.max(1, panel.series.length)));
    const start = plot.left + g * groupWidth + (groupWidth - barWidth * panel.series.length) / 2;
    group.values.forEach((value, s) => {
      if (value === undefined || !Number.isFinite(value)) return;
      const color = panel.series[s]?.color ?? INK;
      const bx = start + s * barWidth;
      const by = scaleY(Math.min(value, top));
      canvas.fillRect(bx + 1, by, barWidth - 2, plot.bottom - by, color);
      const label = formatTick(value);
      if (Canvas.textWidth(label) <= barWidth + 4) canvas.text(bx + (barWidth - Canvas.textWidth(label)) / 2, by - 10, label, INK);
    });
    canvas.text(plot.left + g * groupWidth + (groupWidth - Canvas.textWidth(group.label)) / 2, plot.bottom + 8, group.label, INK);
  });
  if (panel.target !== undefined) {
    const py = scaleY(panel.target.value);
    canvas.line(plot.left, py, plot.right, py, TARGET, 6);
    canvas.line(plot.left, py + 1, plot.right, py + 1, TARGET, 6);
    canvas.text(plot.right - Canvas.textWidth(panel.target.label), py - 10, panel.target.label, TARGET);
  }
}
