import asyncio

import azure.durable_functions as df

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context")
def order(context: df.DurableOrchestrationContext):
    order = context.get_input()
    priced = yield context.call_activity("price", order)
    approval = yield context.wait_for_external_event("Approval")
    return {"total": priced, "approved": approval}


@bp.orchestration_trigger(context_name="context")
def quick(context: df.DurableOrchestrationContext):
    values = yield context.task_all([context.call_activity("price", {"qty": n, "unit": 2}) for n in range(3)])
    return sum(values)


@bp.activity_trigger(input_name="order")
async def price(order: dict) -> int:
    await asyncio.sleep(0.01)
    return order["qty"] * order["unit"]
