// The learning ranker's pure core: Thompson sampling. Each eligible targeted offer gets a draw
// from the posterior of its value per impression (conversion: Beta-Bernoulli; revenue: that
// conversion draw times a draw of the order value), and the draws rank the offers in place of
// their score rules. Offers the data favours win most draws, uncertain ones still win some, so
// the ranker keeps learning; a floor of exploration ranks some customers' offers at random.
// Eligibility, caps, holdouts and fallbacks stay the ranking's (rank.ts): only the order changes.

/** What was learned about one offer in one cell: impressions and the conversions they led to. */
export interface ArmStats {
  impressions: number;
  conversions: number;
  /** Revenue of those conversions (report currency) and its sum of squares. */
  revenue: number;
  revenue_sq: number;
}

export type Objective = 'conversion' | 'revenue';

export interface LearnerSettings {
  objective: Objective;
  /** Learn per segment cell (top category × recency band), shrunk toward the offer's overall figures. */
  cells: boolean;
  /** Share of decisions ranked at random (0–1): a floor of exploration. */
  exploration: number;
}

/** The posterior statistics per offer: `*` over all customers, and per cell. */
export type LearnedStats = ReadonlyMap<number, ReadonlyMap<string, ArmStats>>;

/** The cell key over all customers. */
export const ALL_CELLS = '*';

/** Pseudo-impressions of the offer's overall rate a cell starts from (partial pooling). */
const CELL_PRIOR_STRENGTH = 20;

const NONE: ArmStats = { impressions: 0, conversions: 0, revenue: 0, revenue_sq: 0 };

/** A customer's segment cell from their rule context: top category × recency band. */
export function cellOf(context: {
  top_category?: string | null;
  days_since_last_purchase?: number | null;
}): string {
  const d = context.days_since_last_purchase;
  const band = d === null || d === undefined ? 'never' : d < 30 ? '0-29d' : d < 90 ? '30-89d' : '90d+';
  return `${context.top_category ?? 'none'}|${band}`;
}

/** The Beta posterior of an offer's conversion per impression in a cell (uniform prior overall). */
export function betaParams(stats: LearnedStats, offerId: number, cell: string | null): [number, number] {
  const arms = stats.get(offerId);
  const all = arms?.get(ALL_CELLS) ?? NONE;
  const a0 = 1 + all.conversions;
  const b0 = 1 + Math.max(0, all.impressions - all.conversions);
  if (cell === null || cell === ALL_CELLS) return [a0, b0];
  // A cell starts from the offer's overall rate worth CELL_PRIOR_STRENGTH impressions.
  const own = arms?.get(cell) ?? NONE;
  const mean = a0 / (a0 + b0);
  return [
    mean * CELL_PRIOR_STRENGTH + own.conversions,
    (1 - mean) * CELL_PRIOR_STRENGTH + Math.max(0, own.impressions - own.conversions),
  ];
}

/** Mean and standard error of the order value of an offer's conversions (pooled when it has few). */
function orderValue(arm: ArmStats, pooled: { mean: number; sd: number }): { mean: number; se: number } {
  if (arm.conversions < 2) return { mean: pooled.mean, se: pooled.sd };
  const mean = arm.revenue / arm.conversions;
  const variance = Math.max(0, (arm.revenue_sq - arm.conversions * mean * mean) / (arm.conversions - 1));
  return { mean, se: Math.sqrt(variance / arm.conversions) };
}

/** The order value across every offer: the prior of an offer with fewer than two conversions. */
export function pooledOrderValue(stats: LearnedStats): { mean: number; sd: number } {
  let n = 0;
  let sum = 0;
  let sq = 0;
  for (const arms of stats.values()) {
    const all = arms.get(ALL_CELLS);
    if (!all) continue;
    n += all.conversions;
    sum += all.revenue;
    sq += all.revenue_sq;
  }
  if (n < 2) return { mean: 1, sd: 1 };
  const mean = sum / n;
  return { mean, sd: Math.sqrt(Math.max(0, (sq - n * mean * mean) / (n - 1))) || mean };
}

export interface LearnedEstimate {
  objective: Objective;
  cell: string;
  impressions: number;
  conversions: number;
  /** Posterior mean of conversions per impression, its standard deviation and 95 % interval. */
  conversion_rate: number;
  conversion_sd: number;
  /** Posterior mean of revenue per impression (objective `revenue`), and its standard deviation. */
  revenue_per_impression: number | null;
  revenue_sd: number | null;
  /** The draw this decision ranked the offer by. */
  sample: number;
  /** "conversion 3.2 % ± 0.8 %, 1,240 impressions" (± one posterior standard deviation). */
  text: string;
}

const percent = (x: number) => `${(x * 100).toFixed(1)} %`;
const count = (n: number) => n.toLocaleString('en-GB');

/** The learned estimate of one offer for one customer's cell (what explain shows). */
export function estimateOf(
  stats: LearnedStats,
  settings: LearnerSettings,
  offerId: number,
  cell: string,
  sample: number,
  pooled: { mean: number; sd: number },
): LearnedEstimate {
  const [a, b] = betaParams(stats, offerId, settings.cells ? cell : null);
  const rate = a / (a + b);
  const sd = Math.sqrt((a * b) / ((a + b) ** 2 * (a + b + 1)));
  const arm = stats.get(offerId)?.get(settings.cells ? cell : ALL_CELLS) ?? NONE;
  const base = {
    objective: settings.objective,
    cell: settings.cells ? cell : ALL_CELLS,
    impressions: arm.impressions,
    conversions: arm.conversions,
    conversion_rate: rate,
    conversion_sd: sd,
    sample,
  };
  const seen = `${count(arm.impressions)} impressions${settings.cells ? ` in cell ${cell}` : ''}`;
  if (settings.objective === 'conversion') {
    return {
      ...base,
      revenue_per_impression: null,
      revenue_sd: null,
      text: `conversion ${percent(rate)} ± ${percent(sd)}, ${seen}`,
    };
  }
  const value = orderValue(stats.get(offerId)?.get(ALL_CELLS) ?? NONE, pooled);
  // The product of two independent estimates: its variance from both.
  const rpi = rate * value.mean;
  const rpiSd = Math.sqrt(
    sd * sd * value.se * value.se + sd * sd * value.mean ** 2 + rate * rate * value.se ** 2,
  );
  return {
    ...base,
    revenue_per_impression: rpi,
    revenue_sd: rpiSd,
    text: `revenue per impression ${rpi.toFixed(2)} ± ${rpiSd.toFixed(2)} (conversion ${percent(rate)} ± ${percent(sd)}), ${seen}`,
  };
}

/**
 * A standard normal draw (Box–Muller, the second value discarded: no state is kept between draws,
 * so each customer's draws depend on their seed alone).
 */
function normalDraw(uniform: () => number): number {
  const u = 1 - uniform(); // (0, 1]: the log is finite
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
}

/**
 * A Gamma(shape, 1) draw (Marsaglia and Tsang's method; boosted for a shape under 1). Written
 * here rather than taken from a library: a generator library keeps state between draws (a cached
 * normal), which made one customer's draws depend on the customer decided before them.
 */
function gammaDraw(shape: number, uniform: () => number): number {
  if (shape < 1) return gammaDraw(shape + 1, uniform) * uniform() ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = normalDraw(uniform);
    const v = (1 + c * x) ** 3;
    if (v <= 0) continue;
    if (Math.log(1 - uniform()) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** A Beta(a, b) draw from two Gamma draws. */
export function betaDraw(a: number, b: number, uniform: () => number): number {
  const x = gammaDraw(a, uniform);
  const y = gammaDraw(b, uniform);
  return x + y > 0 ? x / (x + y) : a / (a + b);
}

/**
 * One customer's draws: `sample(offerId)` draws the offer's value per impression from its
 * posterior with the customer's seeded generator; with probability `exploration` (decided once
 * for the customer) every draw is uniform instead, which ranks their eligible offers at random.
 */
export function thompsonSampler(
  stats: LearnedStats,
  settings: LearnerSettings,
  cell: string,
  uniform: () => number,
  pooled: { mean: number; sd: number } = pooledOrderValue(stats),
): { explore: boolean; sample(offerId: number): number } {
  const explore = uniform() < settings.exploration;
  return {
    explore,
    sample(offerId) {
      if (explore) return uniform();
      const [a, b] = betaParams(stats, offerId, settings.cells ? cell : null);
      const p = betaDraw(a, b, uniform);
      if (settings.objective === 'conversion') return p;
      const value = orderValue(stats.get(offerId)?.get(ALL_CELLS) ?? NONE, pooled);
      // Inverse-CDF draw of the order value; a value is never negative.
      return p * Math.max(0, value.mean + value.se * normalDraw(uniform));
    },
  };
}

/** A customer's learned ranking as the decision core takes it (rank.ts `CustomerFacts.learned`). */
export interface LearnedRanking {
  /** The customer's cell (recorded on the ledger row whether or not the ranker learns per cell). */
  cell: string;
  /** Whether this customer's offers are ranked at random (the exploration floor). */
  explore: boolean;
  sample(offerId: number): number;
  describe(offerId: number, sample: number): LearnedEstimate;
}

/** The learned ranking of one customer in `cell`, drawn with their seeded `uniform`. */
export function learnedRanking(
  stats: LearnedStats,
  settings: LearnerSettings,
  cell: string,
  uniform: () => number,
  pooled: { mean: number; sd: number } = pooledOrderValue(stats),
): LearnedRanking {
  const sampler = thompsonSampler(stats, settings, cell, uniform, pooled);
  return {
    cell,
    explore: sampler.explore,
    sample: sampler.sample,
    describe: (offerId, sample) => estimateOf(stats, settings, offerId, cell, sample, pooled),
  };
}
