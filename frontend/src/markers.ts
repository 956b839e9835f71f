// uPlot path builders for the evaluation markers: diamonds and rings.

import uPlot from "uplot";

type Shape = (path: Path2D, x: number, y: number, r: number) => void;

const diamond: Shape = (path, x, y, r) => {
  path.moveTo(x, y - r);
  path.lineTo(x + r, y);
  path.lineTo(x, y + r);
  path.lineTo(x - r, y);
  path.closePath();
};

const ring: Shape = (path, x, y, r) => {
  path.moveTo(x + r, y);
  path.arc(x, y, r, 0, 2 * Math.PI);
};

function markers(shape: Shape, radius: number): uPlot.Series.PathBuilder {
  return (u, seriesIdx, idx0, idx1) => {
    const path = new Path2D();
    const xs = u.data[0];
    const ys = u.data[seriesIdx];
    const r = radius * uPlot.pxRatio;
    for (let i = idx0; i <= idx1; i++) {
      const y = ys[i];
      if (y === null || y === undefined) continue;
      shape(path, u.valToPos(xs[i], "x", true), u.valToPos(y, "y", true), r);
    }
    return { stroke: path, fill: path };
  };
}

export const diamonds = (radius: number) => markers(diamond, radius);
export const rings = (radius: number) => markers(ring, radius);
