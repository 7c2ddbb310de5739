//! A canvas of Unicode braille cells (U+2800–U+28FF). Each cell is 2 dots
//! wide and 4 tall, so a terminal of `cols × rows` cells draws
//! `2·cols × 4·rows` dots. Dot (0, 0) is the top-left corner.
//!
//! Each cell remembers the series that last set one of its dots: a
//! terminal colours whole characters, not dots, so where two lines share a
//! cell the later one wins.

/// Bit of dot `(x, y)` inside a cell, after the braille numbering
/// (dots 1-2-3 down the left column, 4-5-6 down the right, 7 and 8 below).
const DOT_BITS: [[u8; 4]; 2] = [[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]];

/// A grid of braille cells with a series index per cell.
#[derive(Debug, Clone)]
pub struct Canvas {
    cols: usize,
    rows: usize,
    dots: Vec<u8>,
    owner: Vec<Option<usize>>,
}

impl Canvas {
    /// An empty canvas of `cols × rows` cells.
    pub fn new(cols: usize, rows: usize) -> Canvas {
        Canvas {
            cols,
            rows,
            dots: vec![0; cols * rows],
            owner: vec![None; cols * rows],
        }
    }

    /// Width in dots.
    pub fn width(&self) -> usize {
        self.cols * 2
    }

    /// Height in dots.
    pub fn height(&self) -> usize {
        self.rows * 4
    }

    /// Sets dot `(x, y)` for `series`; dots off the canvas are ignored, so
    /// callers may draw lines that leave it.
    pub fn set(&mut self, x: i64, y: i64, series: usize) {
        if x < 0 || y < 0 || x >= self.width() as i64 || y >= self.height() as i64 {
            return;
        }
        let (x, y) = (x as usize, y as usize);
        let i = (y / 4) * self.cols + x / 2;
        self.dots[i] |= DOT_BITS[x % 2][y % 4];
        self.owner[i] = Some(series);
    }

    /// A straight line from `(x0, y0)` to `(x1, y1)`, both ends included
    /// (Bresenham's algorithm, all octants).
    pub fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), series: usize) {
        let dx = (x1 - x0).abs();
        let dy = -(y1 - y0).abs();
        let sx = if x0 < x1 { 1 } else { -1 };
        let sy = if y0 < y1 { 1 } else { -1 };
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            self.set(x, y, series);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// Row `r` of cells: the character (a space where no dot is set) and
    /// the series that owns it.
    pub fn row(&self, r: usize) -> impl Iterator<Item = (char, Option<usize>)> + '_ {
        let cells = r * self.cols..(r + 1) * self.cols;
        self.dots[cells.clone()]
            .iter()
            .zip(&self.owner[cells])
            .map(|(&d, &o)| (cell_char(d), o))
    }

    /// Row `r` as plain text, without colour.
    #[cfg(test)]
    pub fn row_text(&self, r: usize) -> String {
        self.row(r).map(|(c, _)| c).collect()
    }
}

fn cell_char(bits: u8) -> char {
    if bits == 0 {
        ' '
    } else {
        char::from_u32(0x2800 + u32::from(bits)).unwrap_or(' ')
    }
}

#[cfg(test)]
mod tests {
    use super::Canvas;

    #[test]
    fn single_dots_use_braille_numbering() {
        let mut c = Canvas::new(1, 1);
        c.set(0, 0, 0);
        assert_eq!(c.row_text(0), "⠁");
        let mut c = Canvas::new(1, 1);
        c.set(1, 3, 0);
        assert_eq!(c.row_text(0), "⢀");
        let mut c = Canvas::new(1, 1);
        for x in 0..2 {
            for y in 0..4 {
                c.set(x, y, 0);
            }
        }
        assert_eq!(c.row_text(0), "⣿");
    }

    #[test]
    fn off_canvas_dots_are_ignored() {
        let mut c = Canvas::new(1, 1);
        c.set(-1, 0, 0);
        c.set(2, 0, 0);
        c.set(0, 4, 0);
        assert_eq!(c.row_text(0), " ");
    }

    #[test]
    fn diagonal_on_4x2_cells() {
        // 8 × 8 dots; the main diagonal sets (i, i) for i in 0..8.
        let mut c = Canvas::new(4, 2);
        c.line((0, 0), (7, 7), 0);
        assert_eq!(c.row_text(0), "⠑⢄  ");
        assert_eq!(c.row_text(1), "  ⠑⢄");
        // The same line drawn the other way sets the same dots.
        let mut d = Canvas::new(4, 2);
        d.line((7, 7), (0, 0), 0);
        assert_eq!(d.row_text(0), c.row_text(0));
        assert_eq!(d.row_text(1), c.row_text(1));
    }

    #[test]
    fn shallow_and_steep_lines() {
        // Horizontal along the top dot row, vertical down the left column.
        let mut c = Canvas::new(4, 2);
        c.line((0, 0), (7, 0), 0);
        c.line((0, 0), (0, 7), 1);
        assert_eq!(c.row_text(0), "⡏⠉⠉⠉");
        assert_eq!(c.row_text(1), "⡇   ");
        // A shallow rise: 8 dots across, 2 up.
        let mut s = Canvas::new(4, 1);
        s.line((0, 3), (7, 2), 0);
        assert_eq!(s.row_text(0), "⣀⣀⠤⠤");
    }

    #[test]
    fn later_series_owns_shared_cell() {
        let mut c = Canvas::new(2, 1);
        c.set(0, 0, 0);
        c.set(1, 1, 1);
        c.set(2, 0, 0);
        let owners: Vec<Option<usize>> = c.row(0).map(|(_, o)| o).collect();
        assert_eq!(owners, vec![Some(1), Some(0)]);
    }
}
