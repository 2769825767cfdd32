-- identity: for sources whose records are already IM records (a self-built
-- backend exporting straight to the jsonl format): each native record is one IM
-- record, {"kind": "...", <the fields of one item of the REST call>,
-- "_source_id": optional old id}. Validation happens after the script, so a
-- malformed record becomes a dead letter naming the field.

function map(rec, ctx)
	if rec.kind == nil then
		return nil, "record has no kind (identity expects IM records)"
	end
	if rec._source_id == nil and ctx.source_id ~= nil then
		rec._source_id = ctx.source_id
	end
	return rec
end
