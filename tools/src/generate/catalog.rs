//! The product catalogue: product ids are split evenly across the categories and each id has
//! one name, brand, category and price for the whole run (the ITI generator redrew them per
//! event; a warehouse with one product under five names is no test of a product dimension).

use super::world::{Category, CATEGORIES};
use crate::rng::Rng;

const PRODUCT_DOMAIN: u64 = 0xCA7A;

pub struct Catalog {
    seed: u64,
    per_category: u64,
    /// ln of each category's lowest and highest price in cents (prices are log-uniform).
    log_price_range: Vec<(f64, f64)>,
}

pub struct Product {
    pub id: u64,
    pub brand: &'static str,
    pub noun: &'static str,
    pub model: u64,
    pub price_cents: u64,
}

impl Catalog {
    pub fn new(seed: u64, size: u64) -> Self {
        Catalog {
            seed,
            per_category: (size / CATEGORIES.len() as u64).max(1),
            log_price_range: CATEGORIES
                .iter()
                .map(|c| ((c.min_cents as f64).ln(), (c.max_cents as f64).ln()))
                .collect(),
        }
    }

    /// A product of the given category, chosen uniformly.
    pub fn pick(&self, category: usize, rng: &mut Rng) -> Product {
        self.product(category as u64 * self.per_category + rng.below(self.per_category) + 1)
    }

    /// The product with this id (1-based).
    pub fn product(&self, id: u64) -> Product {
        let category_index =
            ((id.saturating_sub(1)) / self.per_category).min(CATEGORIES.len() as u64 - 1) as usize;
        let category: &Category = &CATEGORIES[category_index];
        let mut rng = Rng::keyed(self.seed, PRODUCT_DOMAIN, id);
        // Log-uniform inside the category's range: many cheap items, a few expensive ones.
        let (low, high) = self.log_price_range[category_index];
        let price = (low + rng.unit() * (high - low)).exp();
        // Prices end in .99 like real shelves.
        let price_cents = ((price / 100.0).floor() as u64 * 100 + 99)
            .clamp(category.min_cents, category.max_cents);
        Product {
            id,
            brand: rng.pick::<&str>(category.brands),
            noun: rng.pick::<&str>(category.products),
            model: 10 + rng.below(990),
            price_cents,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_product_id_is_always_the_same_product_within_its_category_range() {
        let catalog = Catalog::new(3, 50_000);
        for id in [1, 4_999, 5_000, 5_001, 50_000] {
            let a = catalog.product(id);
            let b = catalog.product(id);
            assert_eq!(
                (a.brand, a.noun, a.model, a.price_cents),
                (b.brand, b.noun, b.model, b.price_cents)
            );
            let category = &CATEGORIES[((id - 1) / 5_000) as usize];
            assert!(
                (category.min_cents..=category.max_cents).contains(&a.price_cents),
                "{id}"
            );
            assert!(
                category.brands.contains(&a.brand) && category.products.contains(&a.noun),
                "{id}"
            );
        }
    }
}
