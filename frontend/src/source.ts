// Where the tab's answers come from: TensorBoard's routes over HTTP (relative
// URLs), or the data embedded in a report written by `epochjump export`.

export type Route = "runs" | "series" | "jumps" | "compare";
/** Query parameters; an array repeats the parameter (`run=a&run=b`). */
export type Params = Record<string, string | number | string[]>;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface DataSource {
  /** False for a report: its data never changes and nothing can be downloaded. */
  readonly live: boolean;
  /** Said above the cards, e.g. where a report came from; null for none. */
  readonly note: string | null;
  /** The route's JSON answer, before non-finite strings are decoded. */
  get(route: Route, params: Params): Promise<unknown>;
}

export function query(params: Params): string {
  return Object.entries(params)
    .flatMap(([key, value]) => (Array.isArray(value) ? value.map((v) => [key, v]) : [[key, value]]))
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`)
    .join("&");
}

export const httpSource: DataSource = {
  live: true,
  note: null,
  async get(route, params) {
    const search = query(params);
    const response = await fetch(search ? `./${route}?${search}` : `./${route}`, {
      headers: { Accept: "application/json" },
    });
    if (!response.ok) {
      const text = await response.text().catch(() => "");
      throw new ApiError(response.status, text || `${response.status} ${response.statusText}`);
    }
    return response.json();
  },
};
