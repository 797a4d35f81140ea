//! The heat map (п.14): a kernel density of appeal points over a grid, for any filter and zoom.
//!
//! Each appeal with a point adds a quartic kernel `(1 − (d/R)²)²` to the cells whose centres lie
//! within `R` cells of its cell's centre (a binned kernel density: positions are taken to their
//! cell, which at the grid's own resolution changes nothing visible and makes it one pass). Cells are `cell_deg` degrees of latitude high and as many kilometres
//! wide at the grid's middle latitude, so the kernel is round on the ground, not in degrees.
//! Values are relative (the colour ramp uses `max`); appeals without a point are counted apart.

use super::kpi::Filter;
use super::model::ReadModel;
use serde::Serialize;

/// Where and how fine the grid is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GridSpec {
    pub south: f64,
    pub west: f64,
    pub north: f64,
    pub east: f64,
    /// Cell height in degrees of latitude.
    pub cell_deg: f64,
    /// Kernel radius in cells (1 to 32).
    pub radius_cells: u32,
}

impl GridSpec {
    /// A grid over a bounding box (the region's, or the map's view).
    pub fn covering(bbox: &crate::pack::BoundingBox, cell_deg: f64, radius_cells: u32) -> GridSpec {
        GridSpec {
            south: bbox.min_lat,
            west: bbox.min_lon,
            north: bbox.max_lat,
            east: bbox.max_lon,
            cell_deg,
            radius_cells,
        }
    }
}

/// Density per cell, row-major from the south-west corner.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DensityGrid {
    pub spec: GridSpec,
    pub rows: usize,
    pub cols: usize,
    /// Cell width in degrees of longitude.
    pub cell_lon_deg: f64,
    pub values: Vec<f32>,
    pub max: f32,
    /// Appeals that added to the grid, and those of the filter without a point.
    pub points: u64,
    pub without_point: u64,
}

/// The widest kernel (cells); a wider request is narrowed to this.
const MAX_RADIUS_CELLS: u32 = 32;
/// The largest grid computed (cells); a finer request is coarsened to fit.
const MAX_CELLS: usize = 4_000_000;

impl DensityGrid {
    /// The value of the cell holding a point, or 0 outside the grid.
    pub fn value_at(&self, lat: f64, lon: f64) -> f32 {
        match self.cell_of(lat, lon) {
            Some((r, c)) => self.values[r * self.cols + c],
            None => 0.0,
        }
    }

    /// The centre of cell `(row, col)`.
    pub fn cell_centre(&self, row: usize, col: usize) -> (f64, f64) {
        (
            self.spec.south + (row as f64 + 0.5) * self.spec.cell_deg,
            self.spec.west + (col as f64 + 0.5) * self.cell_lon_deg,
        )
    }

    fn cell_of(&self, lat: f64, lon: f64) -> Option<(usize, usize)> {
        let r = ((lat - self.spec.south) / self.spec.cell_deg).floor();
        let c = ((lon - self.spec.west) / self.cell_lon_deg).floor();
        (r >= 0.0 && c >= 0.0 && (r as usize) < self.rows && (c as usize) < self.cols)
            .then_some((r as usize, c as usize))
    }
}

/// The grid `spec` asks for, made to fit: the kernel radius within 1..=32 cells, a usable cell
/// size, and coarsened until it has at most 4 million cells. Empty, with no appeals yet.
pub(crate) fn empty_grid(spec: GridSpec) -> DensityGrid {
    let mut spec = spec;
    spec.radius_cells = spec.radius_cells.clamp(1, MAX_RADIUS_CELLS);
    let height = (spec.north - spec.south).max(0.0);
    let width = (spec.east - spec.west).max(0.0);
    let mid_lat = ((spec.north + spec.south) / 2.0).to_radians();
    let lon_per_lat = 1.0 / mid_lat.cos().abs().max(0.01);
    if !(spec.cell_deg.is_finite() && spec.cell_deg > 0.0) {
        spec.cell_deg = (height / 100.0).max(1e-6);
    }
    // Coarsen until the grid fits the cell budget.
    let size = |cell: f64| {
        let rows = (height / cell).ceil().max(1.0) as usize;
        let cols = (width / (cell * lon_per_lat)).ceil().max(1.0) as usize;
        (rows, cols)
    };
    let (mut rows, mut cols) = size(spec.cell_deg);
    while rows.saturating_mul(cols) > MAX_CELLS {
        spec.cell_deg *= 1.5;
        (rows, cols) = size(spec.cell_deg);
    }
    DensityGrid {
        spec,
        rows,
        cols,
        cell_lon_deg: spec.cell_deg * lon_per_lat,
        values: vec![0.0; rows * cols],
        max: 0.0,
        points: 0,
        without_point: 0,
    }
}

/// How the kernel spreads one bin: its reach in cells, and its weights over the
/// `(2·reach + 1)²` square, row-major.
pub(crate) struct Kernel {
    pub reach: usize,
    pub weights: Vec<f32>,
}

impl Kernel {
    pub(crate) fn of(spec: &GridSpec) -> Kernel {
        let reach = spec.radius_cells as usize;
        let radius = f64::from(spec.radius_cells);
        let side = 2 * reach + 1;
        let weights = (0..side * side)
            .map(|k| {
                let (dy, dx) = (
                    (k / side) as f64 - reach as f64,
                    (k % side) as f64 - reach as f64,
                );
                let q = (dx * dx + dy * dy) / (radius * radius);
                if q < 1.0 {
                    ((1.0 - q) * (1.0 - q)) as f32
                } else {
                    0.0
                }
            })
            .collect();
        Kernel { reach, weights }
    }

    /// The bins of a grid: cells with a margin of the kernel's reach around them (points just
    /// outside still warm the edge), `(rows, cols)`.
    pub(crate) fn bins(&self, grid: &DensityGrid) -> (usize, usize) {
        (grid.rows + 2 * self.reach, grid.cols + 2 * self.reach)
    }

    /// The bin of a point, or `None` without a point or too far outside to touch the grid.
    pub(crate) fn bin_of(&self, grid: &DensityGrid, lat: f32, lon: f32) -> Option<usize> {
        let (lat, lon) = (f64::from(lat), f64::from(lon));
        if !(lat.is_finite() && lon.is_finite()) {
            return None;
        }
        let (bin_rows, bin_cols) = self.bins(grid);
        let r = ((lat - grid.spec.south) / grid.spec.cell_deg).floor() + self.reach as f64;
        let c = ((lon - grid.spec.west) / grid.cell_lon_deg).floor() + self.reach as f64;
        if r < 0.0 || c < 0.0 || r >= bin_rows as f64 || c >= bin_cols as f64 {
            return None;
        }
        Some(r as usize * bin_cols + c as usize)
    }

    /// Calls `f(cell, weight)` for every grid cell bin `b` reaches.
    pub(crate) fn spread(&self, grid: &DensityGrid, b: usize, mut f: impl FnMut(usize, f32)) {
        let (_, bin_cols) = self.bins(grid);
        let side = 2 * self.reach + 1;
        // Bin (br, bc) is grid cell (br − reach, bc − reach).
        let (br, bc) = (b / bin_cols, b % bin_cols);
        for ky in 0..side {
            // Target row = br − reach + (ky − reach) in grid coordinates.
            let Some(r) = (br + ky)
                .checked_sub(2 * self.reach)
                .filter(|r| *r < grid.rows)
            else {
                continue;
            };
            for kx in 0..side {
                let Some(c) = (bc + kx)
                    .checked_sub(2 * self.reach)
                    .filter(|c| *c < grid.cols)
                else {
                    continue;
                };
                f(r * grid.cols + c, self.weights[ky * side + kx]);
            }
        }
    }
}

/// The density of the filter's appeals over `spec`.
pub fn density(model: &ReadModel, filter: &Filter, spec: GridSpec) -> DensityGrid {
    let mut grid = empty_grid(spec);
    let Some(selected) = filter.matching_rows(model) else {
        return grid;
    };
    // Binned kernel density: points are first counted per bin, then each occupied bin spreads
    // its count over its neighbours with the kernel between cell centres. One cheap pass over
    // the appeals instead of (2R + 1)² updates per appeal.
    let kernel = Kernel::of(&grid.spec);
    let (bin_rows, bin_cols) = kernel.bins(&grid);
    let mut bins = vec![0u32; bin_rows * bin_cols];
    for i in selected {
        if !(model.lat[i].is_finite() && model.lon[i].is_finite()) {
            grid.without_point += 1;
            continue;
        }
        if let Some(b) = kernel.bin_of(&grid, model.lat[i], model.lon[i]) {
            grid.points += 1;
            bins[b] += 1;
        }
    }
    let mut values = std::mem::take(&mut grid.values);
    for (b, &count) in bins.iter().enumerate().filter(|(_, n)| **n > 0) {
        kernel.spread(&grid, b, |cell, weight| {
            values[cell] += count as f32 * weight;
        });
    }
    grid.values = values;
    grid.max = grid.values.iter().copied().fold(0.0, f32::max);
    grid
}
