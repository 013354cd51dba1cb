"""Scores the CSVs written by `cargo test --test alerts_nab_sweep -- --ignored` (same CP_SETS,
same CP_OUT) and prints one line per override set: overall standard / low-FP / low-FN and the
per-series standard score with (alerts/false positives). Python 3 standard library only."""
import sys, os, json, csv
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nab
S=["AAPL","AMZN","CRM","CVS","FB"]
data=os.path.join(os.path.dirname(os.path.abspath(__file__)),"..","..","..","shared","data","nab")
out=os.environ.get("CP_OUT","/tmp")
sets=json.loads(os.environ.get("CP_SETS","[{}]"))
for i,st in enumerate(sets):
    res={}
    for s in S:
        rows=list(csv.DictReader(open(os.path.join(out,f"{i}_{s}.csv"))))
        ts=[nab.parse_ts(r["timestamp"]) for r in rows]; al=[float(r["alert"]) for r in rows]
        w=nab.load_windows(os.path.join(data,"windows.json"),f"Twitter_volume_{s}.csv")
        res[s]={p:nab.score(ts,al,w,p,0.5) for p in nab.PROFILES}; res[s]["n"]=int(sum(al))
    def tot(p, ss=S):
        return nab.normalised(sum(res[s][p]["raw"] for s in ss),sum(res[s][p]["null"] for s in ss),sum(res[s][p]["perfect"] for s in ss))
    per=" ".join("%s %5.1f(%d/%dfp)"%(s,nab.normalised(res[s]["standard"]["raw"],res[s]["standard"]["null"],res[s]["standard"]["perfect"]),res[s]["n"],res[s]["standard"]["fp"]) for s in S)
    print("%-60s STD %5.1f LFP %5.1f LFN %5.1f | %s"%(json.dumps(st),tot("standard"),tot("reward_low_FP_rate"),tot("reward_low_FN_rate"),per))
