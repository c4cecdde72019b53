"""app.py: the seed's serving design, kept as the baseline of bench/run.sh.

FastAPI (python3-fastapi 0.92) under uvicorn (0.17), one worker, loading a
scikit-learn RandomForestRegressor saved with joblib, as the seed's
api/main.py did:

  GET  /health  -> {"status": "healthy"}
  GET  /ready   -> {"status": "ready", "model_loaded": true}
  POST /predict {"features": [f1, ..., fN]} -> {"prediction": x}

Run: MODEL_PATH=bench/out/sk_model.joblib /usr/bin/python3 -m uvicorn \
     --app-dir bench/reference app:app --host 127.0.0.1 --port 8001
"""

import os
from typing import List

import joblib
import numpy as np
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

app = FastAPI(title="forest reference")
model = None


class PredictRequest(BaseModel):
    features: List[float]


@app.on_event("startup")
def load_model():
    global model
    model = joblib.load(os.environ.get("MODEL_PATH", "/models/model.joblib"))
    # One request predicts one row: joblib's thread pool (the n_jobs=-1 the
    # model was fitted with) would only add overhead, so the reference gets
    # its faster setting and predicts on the request's thread.
    model.set_params(n_jobs=1)


@app.get("/health")
def health():
    return {"status": "healthy"}


@app.get("/ready")
def ready():
    if model is None:
        raise HTTPException(status_code=503, detail="model not loaded")
    return {"status": "ready", "model_loaded": True}


@app.post("/predict")
def predict(req: PredictRequest):
    if len(req.features) != model.n_features_in_:
        raise HTTPException(status_code=400,
                            detail="expected %d features, got %d"
                            % (model.n_features_in_, len(req.features)))
    x = np.asarray(req.features, dtype=np.float32).reshape(1, -1)
    return {"prediction": float(model.predict(x)[0])}
