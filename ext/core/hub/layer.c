/* What the hub layer adds to gevent_c._core: Waiter and its subclasses,
 * the hub registry, AbstractLinkable/Event/Semaphore/AsyncResult, QueueBase,
 * the hub functions (hub_switch, hub_wait, sleep0, get_hub...) and the
 * interned names their hot paths look up. */
#include "hub.h"

int
gevc_hub_layer_exec(PyObject *mod, gevc_hub_state *st)
{
    /* PyCapsule_Import walks attributes: while the gevent_c package is
     * still importing us, the submodule must be imported by name first */
    PyObject *gmod = PyImport_ImportModule("gevent_c._greenlet");
    if (gmod == NULL)
        return -1;
    Py_DECREF(gmod);
    st->gapi = gevc_greenlet_import();
    if (st->gapi == NULL)
        return -1;
    if (gevc__add_type(mod, &st->waiter_type, &gevc_waiter_spec, NULL, "Waiter") < 0 ||
        gevc__add_type(mod, &st->hublocal_type, &gevc_hublocal_spec, NULL, NULL) < 0)
        return -1;
    st->waiter_unset = PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type);
    if (st->waiter_unset == NULL ||
        PyModule_AddObjectRef(mod, "_WAITER_UNSET", st->waiter_unset) < 0)
        return -1;
    if ((st->str_switch = PyUnicode_InternFromString("switch")) == NULL ||
        (st->str_throw = PyUnicode_InternFromString("throw")) == NULL ||
        (st->str_handle_error = PyUnicode_InternFromString("handle_error")) == NULL ||
        (st->str_switch_out = PyUnicode_InternFromString("switch_out")) == NULL ||
        (st->str_start = PyUnicode_InternFromString("start")) == NULL ||
        (st->str_stop = PyUnicode_InternFromString("stop")) == NULL ||
        (st->str_loop = PyUnicode_InternFromString("loop")) == NULL ||
        (st->str_run_callback = PyUnicode_InternFromString("run_callback")) == NULL ||
        (st->str_hub = PyUnicode_InternFromString("hub")) == NULL ||
        (st->str_put = PyUnicode_InternFromString("_put")) == NULL ||
        (st->str_remove = PyUnicode_InternFromString("remove")) == NULL ||
        (st->str_item = PyUnicode_InternFromString("item")) == NULL ||
        (st->str_unlock_slow = PyUnicode_InternFromString("_unlock_slow")) == NULL ||
        (st->str_fast = PyUnicode_InternFromString("_fast")) == NULL ||
        (st->str_unlock = PyUnicode_InternFromString("_unlock")) == NULL ||
        (st->str_put_slow = PyUnicode_InternFromString("_put_slow")) == NULL ||
        (st->str_get_slow = PyUnicode_InternFromString("_get_slow")) == NULL ||
        (st->str_append = PyUnicode_InternFromString("append")) == NULL ||
        (st->str_popleft = PyUnicode_InternFromString("popleft")) == NULL ||
        (st->str_clear = PyUnicode_InternFromString("clear")) == NULL ||
        (st->str_ready = PyUnicode_InternFromString("ready")) == NULL ||
        (st->str_notify_links = PyUnicode_InternFromString("_notify_links")) == NULL ||
        (st->str_notify_all = PyUnicode_InternFromString("_notify_all")) == NULL ||
        (st->str_timer = PyUnicode_InternFromString("timer")) == NULL ||
        (st->str_update = PyUnicode_InternFromString("update")) == NULL ||
        (st->str_close = PyUnicode_InternFromString("close")) == NULL ||
        (st->str_release = PyUnicode_InternFromString("release")) == NULL ||
        (st->str_run_callback_threadsafe = PyUnicode_InternFromString("run_callback_threadsafe")) == NULL ||
        (st->str_did_put_task = PyUnicode_InternFromString("_did_put_task")) == NULL ||
        (st->str_exception = PyUnicode_InternFromString("exception")) == NULL ||
        (st->str_rawlink = PyUnicode_InternFromString("rawlink")) == NULL ||
        (st->str_unlink = PyUnicode_InternFromString("unlink")) == NULL ||
        (st->str_priority = PyUnicode_InternFromString("priority")) == NULL ||
        (st->str_raise_exception = PyUnicode_InternFromString("_raise_exception")) == NULL ||
        (st->str_maybe_kill = PyUnicode_InternFromString("_maybe_kill_before_start")) == NULL ||
        (st->str_join = PyUnicode_InternFromString("join")) == NULL ||
        (st->str_kill = PyUnicode_InternFromString("kill")) == NULL ||
        (st->minus_one = PyLong_FromLong(-1)) == NULL ||
        (st->str_hublocal_key = PyUnicode_InternFromString("gevent_c._core.hub")) == NULL)
        return -1;
    if (gevc__linkable_types_init(mod, st) < 0 ||
        gevc__timeout_type_init(mod, st) < 0 ||
        gevc__greenletbase_type_init(mod, st) < 0 ||
        gevc__add_type(mod, &st->countdown_type, &gevc_countdown_spec, NULL, NULL) < 0 ||
        gevc__add_type(mod, &st->queuebase_type, &gevc_queuebase_spec, NULL, "QueueBase") < 0 ||
        gevc__queue_state_init(st) < 0 ||
        gevc__add_type(mod, &st->itemwaiter_type, &gevc_itemwaiter_spec,
                 (PyObject *)st->waiter_type, "ItemWaiter") < 0 ||
        gevc__add_type(mod, &st->multiwaiter_type, &gevc_multiwaiter_spec,
                 (PyObject *)st->waiter_type, "MultipleWaiter") < 0)
        return -1;
    if (PyModule_AddFunctions(mod, gevc_hub_methods) < 0 ||
        PyModule_AddFunctions(mod, gevc_wait_all_methods) < 0 ||
        PyModule_AddFunctions(mod, gevc_hublocal_methods) < 0)
        return -1;
    return 0;
}


int
gevc_hub_layer_traverse(gevc_hub_state *st, visitproc visit, void *arg)
{
    Py_VISIT(st->waiter_type);
    for (int i = 0; i < st->waiter_pool_len; i++)
        Py_VISIT(st->waiter_pool[i]);
    Py_VISIT(st->switch_args);
    Py_VISIT(st->hublocal_type);
    Py_VISIT(st->waiter_unset);
    Py_VISIT(st->default_hub_class);
    Py_VISIT(st->exceptions);
    Py_VISIT(st->py_sleep);
    Py_VISIT(st->spawn_stack_last);
    Py_VISIT(st->timeout_type);
    Py_VISIT(st->timeout_fake_timer);
    Py_VISIT(st->timeout_expire);
    Py_VISIT(st->glet_type);
    Py_VISIT(st->glet_notify);
    Py_VISIT(st->glet_kill);
    Py_VISIT(st->glet_success);
    Py_VISIT(st->glet_raw_dead);
    Py_VISIT(st->glet_start_completed);
    Py_VISIT(st->glet_start_cancelled);
    Py_VISIT(st->glet_track_setting);
    Py_VISIT(st->countdown_type);
    Py_VISIT(st->waititer_type);
    Py_VISIT(st->linkable_type);
    Py_VISIT(st->event_type);
    Py_VISIT(st->semaphore_type);
    Py_VISIT(st->result_type);
    Py_VISIT(st->bounded_type);
    Py_VISIT(st->lock_type);
    Py_VISIT(st->rlock_type);
    Py_VISIT(st->thread_rlock_type);
    Py_VISIT(st->queuebase_type);
    Py_VISIT(st->deque.type);
    Py_VISIT(st->itemwaiter_type);
    Py_VISIT(st->multiwaiter_type);
    return 0;
}

void
gevc_hub_layer_clear(gevc_hub_state *st)
{
    while (st->waiter_pool_len > 0) {
        PyObject *sw = st->waiter_pool[--st->waiter_pool_len];
        st->waiter_pool[st->waiter_pool_len] = NULL;
        Py_DECREF(sw);
    }
    Py_CLEAR(st->switch_args);
    while (st->waiter_free_len > 0) {
        struct gevc_waiter *w = st->waiter_free[--st->waiter_free_len];
        st->waiter_free[st->waiter_free_len] = NULL;
        PyObject_GC_Del(w);
    }
    /* the borrowed caches: nothing may be found through them any more */
    memset(&st->lk_class, 0, sizeof(st->lk_class));
    memset(&st->hl_last, 0, sizeof(st->hl_last));
    memset(&st->plain_loop_class, 0, sizeof(st->plain_loop_class));
    memset(&st->hub_loop, 0, sizeof(st->hub_loop));
    Py_CLEAR(st->waiter_type);
    Py_CLEAR(st->hublocal_type);
    Py_CLEAR(st->waiter_unset);
    Py_CLEAR(st->default_hub_class);
    Py_CLEAR(st->exceptions);
    Py_CLEAR(st->py_sleep);
    Py_CLEAR(st->spawn_stack_last);
    Py_CLEAR(st->timeout_type);
    Py_CLEAR(st->timeout_fake_timer);
    Py_CLEAR(st->timeout_expire);
    Py_CLEAR(st->str_on_expiration);
    Py_CLEAR(st->glet_type);
    Py_CLEAR(st->glet_notify);
    Py_CLEAR(st->glet_kill);
    Py_CLEAR(st->glet_success);
    Py_CLEAR(st->glet_raw_dead);
    Py_CLEAR(st->glet_start_completed);
    Py_CLEAR(st->glet_start_cancelled);
    Py_CLEAR(st->glet_track_setting);
    Py_CLEAR(st->str_underscore_run);
    Py_CLEAR(st->str_run);
    Py_CLEAR(st->str_value);
    Py_CLEAR(st->str_pending);
    Py_CLEAR(st->str_active);
    Py_CLEAR(st->str_join_slow);
    Py_CLEAR(st->str_dead);
    Py_CLEAR(st->str_spawn_tree_locals);
    Py_CLEAR(st->str_spawning_stack_limit);
    Py_CLEAR(st->str_spawn_callbacks);
    Py_CLEAR(st->countdown_type);
    Py_CLEAR(st->waititer_type);
    Py_CLEAR(st->minus_one);
    Py_CLEAR(st->str_exception);
    Py_CLEAR(st->str_rawlink);
    Py_CLEAR(st->str_unlink);
    Py_CLEAR(st->str_priority);
    Py_CLEAR(st->str_raise_exception);
    Py_CLEAR(st->str_maybe_kill);
    Py_CLEAR(st->str_join);
    Py_CLEAR(st->str_kill);
    Py_CLEAR(st->linkable_type);
    Py_CLEAR(st->event_type);
    Py_CLEAR(st->semaphore_type);
    Py_CLEAR(st->result_type);
    Py_CLEAR(st->bounded_type);
    Py_CLEAR(st->lock_type);
    Py_CLEAR(st->rlock_type);
    Py_CLEAR(st->thread_rlock_type);
    Py_CLEAR(st->queuebase_type);
    Py_CLEAR(st->deque.type);
    Py_CLEAR(st->itemwaiter_type);
    Py_CLEAR(st->multiwaiter_type);
    Py_CLEAR(st->str_switch);
    Py_CLEAR(st->str_throw);
    Py_CLEAR(st->str_handle_error);
    Py_CLEAR(st->str_switch_out);
    Py_CLEAR(st->str_start);
    Py_CLEAR(st->str_stop);
    Py_CLEAR(st->str_loop);
    Py_CLEAR(st->str_hublocal_key);
    Py_CLEAR(st->str_run_callback);
    Py_CLEAR(st->str_ready);
    Py_CLEAR(st->str_notify_links);
    Py_CLEAR(st->str_notify_all);
    Py_CLEAR(st->str_timer);
    Py_CLEAR(st->str_update);
    Py_CLEAR(st->str_close);
    Py_CLEAR(st->str_release);
    Py_CLEAR(st->str_run_callback_threadsafe);
    Py_CLEAR(st->str_fast);
    Py_CLEAR(st->str_unlock);
    Py_CLEAR(st->str_put_slow);
    Py_CLEAR(st->str_get_slow);
    Py_CLEAR(st->str_append);
    Py_CLEAR(st->str_popleft);
    Py_CLEAR(st->str_clear);
    Py_CLEAR(st->str_hub);
    Py_CLEAR(st->str_put);
    Py_CLEAR(st->str_remove);
    Py_CLEAR(st->str_item);
    Py_CLEAR(st->str_unlock_slow);
    Py_CLEAR(st->str_did_put_task);
}
