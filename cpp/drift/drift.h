// Every drift detector (ADWIN, Page-Hinkley, DDM, EDDM, HDDM_A, HDDM_W), one header each; the
// interface they share is described in drift/detector.h.
#pragma once

#include "drift/adwin.h"
#include "drift/ddm.h"
#include "drift/detector.h"
#include "drift/eddm.h"
#include "drift/hddm_a.h"
#include "drift/hddm_w.h"
#include "drift/page_hinkley.h"
