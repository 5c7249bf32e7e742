#!/usr/bin/env bash
# The paper's open questions, answered on ../shared/data/posters (issue 13): every command behind the tables in
# benchmarks/README.md sections 1 and 5. Runs land in runs/ (not committed); features are cached, so a rerun
# reuses finished runs and computes nothing twice. About 2 hours on 2 cores with a warm feature cache.
set -euo pipefail
MMGENRE=${MMGENRE:-mmgenre}
DATA=${MMGENRE_DATA:-../shared/data/posters}
KAGGLE=${MMGENRE_KAGGLE:-../shared/data/posters-kaggle}
SEEDS=0,1,2
step=${1:-all}

if [[ $step == all || $step == main ]]; then  # the main table: the paper's head against the baselines, ASL vs BCE
  $MMGENRE ablate paper-offline --data "$DATA" --seeds $SEEDS --out runs/ablate-main \
    --vary fusion.name=cross-attn-smsam,concat,late,image-only,text-only --vary loss.name=asl,bce
fi
if [[ $step == all || $step == search ]]; then  # the levers tried for offline-best, one seed, chosen on validation
  $MMGENRE ablate paper-offline --data "$DATA" --seeds 0 --out runs/search-heads \
    --variant "fusion.name=late;loss.name=bce" \
    --variant "fusion.name=late;loss.name=bce;fusion.params.dropout=0.5" \
    --variant "fusion.name=late;loss.name=bce;fusion.params.dropout=0.5;fusion.params.hidden=1024" \
    --variant "fusion.name=late;loss.name=bce;fusion.params.hidden=256" \
    --variant "fusion.name=late;loss.name=bce;train.optimizer=adamw;train.weight_decay=0.05" \
    --variant "fusion.name=late;loss.name=bce;loss.params.pos_weight=auto" \
    --variant "fusion.name=concat;loss.name=bce;fusion.params.dropout=0.5" \
    --variant "fusion.name=late;loss.name=bce;train.lr=3e-4;fusion.params.dropout=0.5" \
    --variant "fusion.name=late;loss.name=bce;train.ensemble=5"
  $MMGENRE ablate offline-best --data "$DATA" --seeds 0 --out runs/search-views \
    --variant image_encoder.params.views=center --variant image_encoder.params.views=center+flip
fi
if [[ $step == all || $step == best ]]; then  # recipes/offline-best.yaml against paper-offline, on both collections
  $MMGENRE ablate paper-offline --data "$DATA" --seeds $SEEDS --out runs/ablate-best \
    --variant loss.name=asl --variant "fusion.name=late;loss.name=bce;loss.params.pos_weight=auto"
  for run in runs/ablate-best/*-seed*/; do
    $MMGENRE eval "$run" --split all --data "$KAGGLE" --json > /dev/null
    $MMGENRE eval "$run" --split test --resize-to 182 --json > /dev/null
  done
  python benchmarks/sources.py runs/ablate-best --paper loss-asl
fi
if [[ $step == all || $step == smsam ]]; then  # SMSAM depth, and the head without MCAM (pooled features)
  $MMGENRE ablate paper-offline --data "$DATA" --seeds $SEEDS --out runs/ablate-smsam \
    --variant fusion.params.layers=2 --variant fusion.params.layers=0 --variant fusion.params.layers=1 \
    --variant fusion.params.layers=4 --variant fusion.params.cross_attention=false
fi
if [[ $step == all || $step == eras ]]; then  # train on 1980-1999 vs the same number from all eras; test on 2010s
  $MMGENRE ablate paper-offline --data "$DATA" --seeds $SEEDS --out runs/ablate-eras \
    --variant "data.train_max=1933;data.test_where=year >= 2010" \
    --variant "data.train_where=year >= 1980 and year < 2000;data.test_where=year >= 2010"
fi
if [[ $step == all || $step == cultures ]]; then  # train without non-English posters; test on them
  $MMGENRE ablate paper-offline --data "$DATA" --seeds $SEEDS --out runs/ablate-cultures \
    --variant "data.test_where=not language ^= English" \
    --variant "data.train_where=language ^= English;data.test_where=not language ^= English"
fi
if [[ $step == all || $step == sources ]]; then  # every main-table model on the second collection and at 182 px
  for run in runs/ablate-main/*-seed*/; do
    $MMGENRE eval "$run" --split all --data "$KAGGLE" --json > /dev/null
    $MMGENRE eval "$run" --split test --resize-to 182 --json > /dev/null
  done
  python benchmarks/sources.py runs/ablate-main
fi
