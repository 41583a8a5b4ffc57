//! The operators shared by [`DStream`](crate::DStream) and [`Dataset`](crate::Dataset).
//!
//! Both types wrap the same plan nodes, so an operator has one implementation and its meaning is
//! the same on a finite dataset and on every batch of a stream. The macro below writes the
//! methods once for both types.

/// Defines the shared transformations on `$ty<T>` (which has `fn wrap<U>(&self, Plan<U>) -> $ty<U>`).
macro_rules! collection_ops {
    ($ty:ident) => {
        impl<T: $crate::data::Data> $ty<T> {
            /// Applies `f` to every record.
            pub fn map<U, F>(&self, f: F) -> $ty<U>
            where
                U: $crate::data::Data,
                F: Fn(T) -> U + Send + Sync + 'static,
            {
                let f = std::sync::Arc::new(f);
                self.wrap(self.plan.narrow(
                    "map",
                    std::sync::Arc::new(move || -> $crate::plan::StepFn<T, U> {
                        let f = f.clone();
                        Box::new(move |x, out| {
                            out(f(x));
                            1
                        })
                    }),
                ))
            }

            /// Applies `f` to every record and flattens the results.
            pub fn flat_map<U, I, F>(&self, f: F) -> $ty<U>
            where
                U: $crate::data::Data,
                I: IntoIterator<Item = U> + 'static,
                F: Fn(T) -> I + Send + Sync + 'static,
            {
                let f = std::sync::Arc::new(f);
                self.wrap(self.plan.narrow(
                    "flat_map",
                    std::sync::Arc::new(move || -> $crate::plan::StepFn<T, U> {
                        let f = f.clone();
                        Box::new(move |x, out| {
                            let mut n = 0;
                            for y in f(x) {
                                out(y);
                                n += 1;
                            }
                            n
                        })
                    }),
                ))
            }

            /// Like [`flat_map`](Self::flat_map), with a closure that pushes its results into
            /// `out` (Flink's collector style): no iterator or `Vec` per record, and results
            /// can be made from borrowed parts of the record
            /// (`|line, out| out.extend(line.split_whitespace().map(|w| (w.to_string(), 1)))`).
            pub fn flat_map_into<U, F>(&self, f: F) -> $ty<U>
            where
                U: $crate::data::Data,
                F: Fn(T, &mut Vec<U>) + Send + Sync + 'static,
            {
                let f = std::sync::Arc::new(f);
                self.wrap(self.plan.narrow(
                    "flat_map",
                    std::sync::Arc::new(move || -> $crate::plan::StepFn<T, U> {
                        let f = f.clone();
                        let mut made: Vec<U> = Vec::new();
                        Box::new(move |x, out| {
                            f(x, &mut made);
                            let n = made.len();
                            for y in made.drain(..) {
                                out(y)
                            }
                            n
                        })
                    }),
                ))
            }

            /// Keeps the records for which `f` returns `true`.
            pub fn filter<F>(&self, f: F) -> $ty<T>
            where
                F: Fn(&T) -> bool + Send + Sync + 'static,
            {
                let f = std::sync::Arc::new(f);
                self.wrap(self.plan.narrow(
                    "filter",
                    std::sync::Arc::new(move || -> $crate::plan::StepFn<T, T> {
                        let f = f.clone();
                        Box::new(move |x, out| {
                            let keep = f(&x);
                            if keep {
                                out(x)
                            }
                            usize::from(keep)
                        })
                    }),
                ))
            }

            /// Applies `f` to each whole partition (one per worker) of every batch, empty
            /// partitions included.
            pub fn map_partitions<U, I, F>(&self, f: F) -> $ty<U>
            where
                U: $crate::data::Data,
                I: IntoIterator<Item = U> + 'static,
                F: Fn(Vec<T>) -> I + Send + Sync + 'static,
            {
                let f = std::sync::Arc::new(f);
                self.wrap(self.plan.derive("map_partitions", move |s, b| {
                    let f = f.clone();
                    $crate::ops::per_time(
                        s,
                        $crate::ops::local(),
                        "map_partitions",
                        &b.env,
                        $crate::ops::EmitEmpty::AllWorkers,
                        Vec::new,
                        |acc: &mut Vec<T>, data: &mut Vec<T>| acc.append(data),
                        move |_t, part, out: &mut Vec<U>| out.extend(f(part)),
                    )
                }))
            }

            /// [`map_partitions`](Self::map_partitions) with a function that may fail: an
            /// `Err` fails the job with an [`Error::Operator`]($crate::Error::Operator) naming
            /// this operator and the batch, wrapping the message as an
            /// [`Error::Function`]($crate::Error::Function); the partition's records are not
            /// passed on.
            pub fn try_map_partitions<U, I, E, F>(&self, f: F) -> $ty<U>
            where
                U: $crate::data::Data,
                I: IntoIterator<Item = U> + 'static,
                E: std::fmt::Display,
                F: Fn(Vec<T>) -> std::result::Result<I, E> + Send + Sync + 'static,
            {
                let f = std::sync::Arc::new(f);
                self.wrap(self.plan.derive("try_map_partitions", move |s, b| {
                    let f = f.clone();
                    let shared = b.env.shared.clone();
                    let name = b.env.operator_name();
                    $crate::ops::per_time(
                        s,
                        $crate::ops::local(),
                        "try_map_partitions",
                        &b.env,
                        $crate::ops::EmitEmpty::AllWorkers,
                        Vec::new,
                        |acc: &mut Vec<T>, data: &mut Vec<T>| acc.append(data),
                        move |t, part, out: &mut Vec<U>| match f(part) {
                            Ok(records) => out.extend(records),
                            Err(e) => shared.fail($crate::Error::Operator {
                                operator: format!("{name} (batch {t} ms)"),
                                error: Box::new($crate::Error::Function(e.to_string())),
                            }),
                        },
                    )
                }))
            }

            /// Turns each partition (one per worker) of every batch into one `Vec`.
            pub fn glom(&self) -> $ty<Vec<T>> {
                self.map_partitions(|part| std::iter::once(part))
            }

            /// The records of both.
            pub fn union(&self, other: &$ty<T>) -> $ty<T> {
                self.wrap(self.plan.derive2(&other.plan, "union", |a, b, _bld| {
                    $crate::ops::narrow::union(a, b)
                }))
            }

            /// Spreads the records evenly (round-robin) over `n` partitions. Partitions are
            /// workers, so at most as many partitions as workers are used (a batch job over
            /// the result runs on `n` workers).
            pub fn repartition(&self, n: usize) -> $ty<T> {
                let lineage = $crate::plan::Lineage {
                    partitions: n.max(1),
                    ..self.plan.lineage().clone()
                };
                self.wrap(self.plan.derive_with("repartition", lineage, move |s, b| {
                    $crate::ops::narrow::repartition(s, n.min(b.env.peers), b.env.index)
                }))
            }
        }

        impl<K: $crate::data::Key, V: $crate::data::Data> $ty<(K, V)> {
            /// Merges the values of each key with `f` (associative and commutative), combining
            /// on each worker before records are routed by key.
            pub fn reduce_by_key<F>(&self, f: F) -> $ty<(K, V)>
            where
                F: Fn(V, V) -> V + Send + Sync + 'static,
            {
                let f: std::sync::Arc<dyn Fn(V, V) -> V + Send + Sync> = std::sync::Arc::new(f);
                let combiner = $crate::ops::keyed::Combiner {
                    create: std::sync::Arc::new(|v| v),
                    merge_value: f.clone(),
                    merge_combiners: f,
                };
                self.wrap(self.plan.derive_fused("reduce_by_key", move |input, b| {
                    let parts = b.env.peers;
                    $crate::ops::keyed::combine_by_key_fused(
                        input,
                        b,
                        "reduce_by_key",
                        combiner.clone(),
                        parts,
                    )
                }))
            }

            /// Spark's `combineByKey`: `create` makes a combiner from a key's first value on a
            /// worker, `merge_value` adds further values, `merge_combiners` merges the
            /// workers' combiners.
            pub fn combine_by_key<C, F1, F2, F3>(
                &self,
                create: F1,
                merge_value: F2,
                merge_combiners: F3,
            ) -> $ty<(K, C)>
            where
                C: $crate::data::Data,
                F1: Fn(V) -> C + Send + Sync + 'static,
                F2: Fn(C, V) -> C + Send + Sync + 'static,
                F3: Fn(C, C) -> C + Send + Sync + 'static,
            {
                let combiner = $crate::ops::keyed::Combiner {
                    create: std::sync::Arc::new(create),
                    merge_value: std::sync::Arc::new(merge_value),
                    merge_combiners: std::sync::Arc::new(merge_combiners),
                };
                self.wrap(self.plan.derive_fused("combine_by_key", move |input, b| {
                    let parts = b.env.peers;
                    $crate::ops::keyed::combine_by_key_fused(
                        input,
                        b,
                        "combine_by_key",
                        combiner.clone(),
                        parts,
                    )
                }))
            }

            /// Gathers the values of each key (in arrival order per worker).
            pub fn group_by_key(&self) -> $ty<(K, Vec<V>)> {
                self.wrap(self.plan.derive("group_by_key", |s, b| {
                    $crate::ops::keyed::group_by_key(s, &b.env)
                }))
            }

            /// Applies `f` to every value, keeping the key.
            pub fn map_values<U, F>(&self, f: F) -> $ty<(K, U)>
            where
                U: $crate::data::Data,
                F: Fn(V) -> U + Send + Sync + 'static,
            {
                self.map(move |(k, v)| (k, f(v)))
            }

            /// Applies `f` to every value and pairs each result with the key.
            pub fn flat_map_values<U, I, F>(&self, f: F) -> $ty<(K, U)>
            where
                U: $crate::data::Data,
                I: IntoIterator<Item = U> + 'static,
                F: Fn(V) -> I + Send + Sync + 'static,
            {
                let f = std::sync::Arc::new(f);
                self.wrap(self.plan.narrow(
                    "flat_map_values",
                    std::sync::Arc::new(move || -> $crate::plan::StepFn<(K, V), (K, U)> {
                        let f = f.clone();
                        Box::new(move |(k, v), out| {
                            let mut n = 0;
                            for u in f(v) {
                                out((k.clone(), u));
                                n += 1;
                            }
                            n
                        })
                    }),
                ))
            }

            /// For every key present on either side, the key with both sides' values.
            pub fn cogroup<W: $crate::data::Data>(
                &self,
                other: &$ty<(K, W)>,
            ) -> $ty<(K, (Vec<V>, Vec<W>))> {
                self.wrap(self.plan.derive2(&other.plan, "cogroup", |l, r, _b| {
                    $crate::ops::cogroup::cogroup_with(
                        l,
                        r,
                        "cogroup",
                        |k, vs, ws, out: &mut Vec<(K, (Vec<V>, Vec<W>))>| out.push((k, (vs, ws))),
                    )
                }))
            }

            /// Every pair of values with the same key on both sides.
            pub fn join<W: $crate::data::Data>(&self, other: &$ty<(K, W)>) -> $ty<(K, (V, W))> {
                self.joined(other, $crate::ops::cogroup::JoinKind::Inner)
                    .flat_map(|(k, (v, w))| v.zip(w).map(|vw| (k, vw)))
            }

            /// Like `join`, but every left value is kept; without a match it pairs with `None`.
            pub fn left_outer_join<W: $crate::data::Data>(
                &self,
                other: &$ty<(K, W)>,
            ) -> $ty<(K, (V, Option<W>))> {
                self.joined(other, $crate::ops::cogroup::JoinKind::LeftOuter)
                    .flat_map(|(k, (v, w))| v.map(|v| (k, (v, w))))
            }

            /// Like `join`, but every right value is kept; without a match it pairs with `None`.
            pub fn right_outer_join<W: $crate::data::Data>(
                &self,
                other: &$ty<(K, W)>,
            ) -> $ty<(K, (Option<V>, W))> {
                self.joined(other, $crate::ops::cogroup::JoinKind::RightOuter)
                    .flat_map(|(k, (v, w))| w.map(|w| (k, (v, w))))
            }

            /// Like `join`, but every value of either side is kept, paired with `None` when the
            /// other side has no value for its key.
            pub fn full_outer_join<W: $crate::data::Data>(
                &self,
                other: &$ty<(K, W)>,
            ) -> $ty<(K, (Option<V>, Option<W>))> {
                self.joined(other, $crate::ops::cogroup::JoinKind::FullOuter)
            }

            fn joined<W: $crate::data::Data>(
                &self,
                other: &$ty<(K, W)>,
                kind: $crate::ops::cogroup::JoinKind,
            ) -> $ty<(K, (Option<V>, Option<W>))> {
                self.wrap(self.plan.derive2(&other.plan, "join", move |l, r, _b| {
                    $crate::ops::cogroup::join(l, r, kind)
                }))
            }
        }
    };
}

pub(crate) use collection_ops;
